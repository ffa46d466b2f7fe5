"""Exports read back the way a user's program would (openpyxl, csv), with the numbers checked against the DB."""

from __future__ import annotations

import csv
import io
from datetime import datetime

import openpyxl
import pytest

from checkin import cli
from checkin.store import people, scans
from checkin.store.db import transaction
from checkin.store.people import PersonDetails

from .conftest import bearer, local, sign_in

from .conftest import db_args

FORMULA_NAME = '=HYPERLINK("http://evil.example","Bấm vào đây")'


@pytest.fixture
def day(client, world):
    """A morning: Hương on time and Nam late at the opening, a refused unknown badge, an undone check-in,
    a participant whose roster cells look like formulas; then the clock at 9:00 (the opening is over)."""
    conn = world.conn()
    with transaction(conn):
        pid = people.insert_participant(conn, PersonDetails(FORMULA_NAME, "+Đoàn Thanh niên Sở Y tế", "-Bí thư",
                                                            "0912000111"), world.clock())
        tricky = people.enrol(conn, world.course.id, pid, world.clock())
        tricky_code = people.get_enrolment_badge_holder(conn, tricky).code
    conn.close()

    def scan(code, token=None):
        answer = client.post("/api/v1/scans", json={"code": code, "method": "camera"},
                             headers=bearer(token or world.course.token))
        assert answer.status_code == 200
        return answer.json()

    scan(world.course.codes[0])  # 7:50 present, Cổng A
    scan("not-a-badge-at-all")
    undone = scan(world.course.codes[2])
    assert client.post(f"/api/v1/scans/{undone['scan_id']}/undo", headers=bearer(world.course.token)).status_code == 200
    world.clock.set(local(8, 12))
    scan(world.course.codes[1], world.course.other_token)  # late, Cổng B
    scan(tricky_code)
    world.clock.set(local(9, 0))
    sign_in(client)
    return world


def db_statuses(world) -> dict[tuple[int, int], str]:
    conn = world.conn()
    rows = scans.list_attendance(conn, world.course.id)
    conn.close()
    return {(r.enrolment_id, r.session_id): r.status for r in rows}


def test_workbook_has_a_sheet_per_session_a_matrix_and_units_that_match_the_database(client, day):
    answer = client.get(f"/courses/{day.course.id}/exports/attendance.xlsx")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("application/vnd.openxmlformats")
    assert "attachment" in answer.headers["content-disposition"]
    book = openpyxl.load_workbook(io.BytesIO(answer.content))
    assert book.sheetnames == ["Đơn vị", "Học viên × chuyên đề", "1. Khai mạc", "2. Chuyên đề 1", "3. Chuyên đề 2"]

    opening = book["1. Khai mạc"]
    assert opening.freeze_panes == "C2"
    assert opening.column_dimensions["B"].width >= 20  # fits "Nguyễn Thị Hương" and the long formula name
    rows = list(opening.iter_rows(values_only=True))
    assert rows[0] == ("STT", "Họ và tên", "Đơn vị", "Chức vụ", "Tình trạng", "Giờ điểm danh", "Cách điểm danh",
                       "Thiết bị", "Ghi chú")
    by_name = {r[1]: r for r in rows[1:]}
    assert len(by_name) == 5
    huong = by_name["Nguyễn Thị Hương"]
    assert huong[4] == "Đúng giờ" and huong[5] == datetime(2026, 11, 27, 7, 50) and huong[7] == "Cổng A"
    assert huong[6] == "Quét mã QR"
    assert opening.cell(row=rows.index(huong) + 1, column=6).is_date
    assert by_name["Trần Văn Nam"][4] == "Đến muộn" and by_name["Trần Văn Nam"][7] == "Cổng B"
    assert by_name["Lê Minh Đức"][4] == "Vắng"  # checked in, then undone
    # Formula-like cells stay text: a leading apostrophe, never a formula.
    tricky = by_name["'" + FORMULA_NAME]
    assert tricky[2] == "'+Đoàn Thanh niên Sở Y tế" and tricky[3] == "'-Bí thư"
    assert all(cell.data_type != "f" for row in opening.iter_rows() for cell in row)

    statuses = db_statuses(day)
    matrix = list(book["Học viên × chuyên đề"].iter_rows(values_only=True))
    assert matrix[0][-1] == "Số chuyên đề đã dự"
    attended = {r[1]: r[-1] for r in matrix[1:]}
    assert attended["Nguyễn Thị Hương"] == sum(
        1 for (e, _s), st in statuses.items() if e == day.course.enrolments[0] and st in ("present", "late"))
    assert [r[4] for r in matrix[1:]].count("Vắng") == 2
    assert {r[5] for r in matrix[1:]} == {"Chưa đến"}  # Chuyên đề 1 is under way

    units = list(book["Đơn vị"].iter_rows(values_only=True))
    assert units[-1][0] == "Tất cả đơn vị"
    assert units[-1][1] == 5 and units[-1][2] == sum(
        1 for (_e, s), st in statuses.items() if s == day.course.sessions[0] and st in ("present", "late"))
    tai_chinh = next(r for r in units if r[0] == "Đoàn Thanh niên Sở Tài chính")
    assert tai_chinh[1:] == (2, 1, 0, 0, 0)


def test_workbook_speaks_english_when_the_organiser_does(client, day):
    client.cookies.set("lang", "en")
    book = openpyxl.load_workbook(io.BytesIO(client.get(f"/courses/{day.course.id}/exports/attendance.xlsx").content))
    assert book.sheetnames[:2] == ["Units", "Participants x sessions"]
    header = next(book["1. Khai mạc"].iter_rows(values_only=True))
    assert header[:5] == ("No.", "Full name", "Unit", "Position", "Status")


def test_csv_has_a_bom_status_codes_and_neutralised_cells(client, day):
    answer = client.get(f"/courses/{day.course.id}/exports/attendance.csv")
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/csv")
    assert answer.content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(answer.content.decode("utf-8-sig"))))
    assert len(rows) == 5 * 3
    huong = next(r for r in rows if r["full_name"] == "Nguyễn Thị Hương" and r["session"] == "Khai mạc")
    assert huong["status"] == "present" and huong["checked_in_at"] == "2026-11-27 07:50:00"
    assert huong["method"] == "camera" and huong["device"] == "Cổng A"
    assert any(r["full_name"] == "'" + FORMULA_NAME and r["unit"].startswith("'+") for r in rows)
    counted = {(r["full_name"], r["session"]) for r in rows if r["status"] in ("present", "late")}
    assert len(counted) == sum(1 for st in db_statuses(day).values() if st in ("present", "late"))


def test_scan_log_lists_every_attempt_with_reasons_and_undos(client, day):
    rows = list(csv.DictReader(io.StringIO(
        client.get(f"/courses/{day.course.id}/exports/scan-log.csv").content.decode("utf-8-sig"))))
    conn = day.conn()
    stored = scans.list_scans(conn, day.course.id)
    conn.close()
    assert [int(r["scan_id"]) for r in rows] == [s.id for s in stored]
    assert [r["reason"] for r in rows] == ["checked_in", "unknown_code", "checked_in", "checked_in_late", "checked_in_late"]
    assert rows[1]["accepted"] == "no" and rows[1]["full_name"] == ""
    assert rows[2]["undone_at"] != "" and rows[2]["full_name"] == "Lê Minh Đức"
    # Only the start of a code: a whole badge code is a bearer secret.
    assert all(len(r["code_start"]) <= 6 for r in rows)


def test_audit_csv_records_who_exported_what(client, day):
    client.get(f"/courses/{day.course.id}/exports/attendance.xlsx")
    rows = list(csv.DictReader(io.StringIO(
        client.get(f"/courses/{day.course.id}/exports/audit.csv").content.decode("utf-8-sig"))))
    assert [(r["action"], r["subject"], r["organiser"]) for r in rows] == [("export", "attendance.xlsx", "Nguyễn Lan")]


def test_exports_are_for_the_course_organisers_only(client, world):
    assert client.get(f"/courses/{world.course.id}/exports/attendance.xlsx").status_code == 401
    sign_in(client, "outsider")
    for name in ("attendance.xlsx", "attendance.csv", "scan-log.csv", "audit.csv"):
        assert client.get(f"/courses/{world.course.id}/exports/{name}").status_code == 403


@pytest.mark.parametrize("fmt", ["xlsx", "csv", "scan-log", "audit"])
def test_cli_export_writes_each_format(day, tmp_path, fmt, capsys):
    out = tmp_path / f"out.{fmt}"
    code = cli.main(["export", *db_args(day.settings), "--course", str(day.course.id), "--format", fmt,
                     "--out", str(out)])
    assert code == 0
    if fmt == "xlsx":
        book = openpyxl.load_workbook(out)
        assert len(book.sheetnames) == 5 and book.worksheets[2].max_row == 6
    else:
        rows = list(csv.reader(io.StringIO(out.read_text(encoding="utf-8-sig"))))
        expected = {"csv": 16, "scan-log": 6, "audit": 1}[fmt]
        assert len(rows) == expected


def test_cli_xlsx_needs_an_output_file(day, capsys):
    assert cli.main(["export", *db_args(day.settings), "--course", str(day.course.id),
                     "--format", "xlsx"]) == 2
    assert "--out" in capsys.readouterr().err


def test_xlsx_writer_keeps_awkward_text_readable():
    from checkin.documents.exports_xlsx import _sheet_name
    from checkin.documents.exports_xlsx_writer import Cell, Style, Workbook

    buffer = io.BytesIO()
    book = Workbook(buffer)
    sheet = book.add_sheet("Thử", widths=[30, 10], freeze=(1, 1))
    sheet.append([Cell("Tên", Style.HEADER), "Giờ"])
    sheet.append(["  spaces kept  ", datetime(2026, 11, 27, 7, 50, 30)])
    sheet.append(["bell\x07 and <tags> & \"quotes\"", 1.5])
    sheet.append(["x" * 40000, True])
    book.close()
    read = openpyxl.load_workbook(io.BytesIO(buffer.getvalue()))["Thử"]
    rows = list(read.iter_rows(values_only=True))
    assert rows[1] == ("  spaces kept  ", datetime(2026, 11, 27, 7, 50, 30))
    assert rows[2] == ('bell and <tags> & "quotes"', 1.5)
    assert len(rows[3][0]) == 32767 and rows[3][1] is True
    assert read.freeze_panes == "B2" and read["A1"].font.b

    used: set[str] = set()
    names = [_sheet_name(t, used) for t in ["a/b:c", "A/B:C", "'quoted'", "x" * 40, "x" * 40]]
    assert names == ["a b c", "A B C (2)", "quoted", "x" * 31, "x" * 27 + " (2)"]
