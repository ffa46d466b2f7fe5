"""Roster import over HTTP: upload, preview (rows, problems, likely duplicates), confirm all-or-nothing."""

from __future__ import annotations

from dataclasses import replace

import io
import re
import unicodedata

import openpyxl
import pytest


from .conftest import csrf, rows, sign_in


def xlsx(table) -> bytes:
    wb = openpyxl.Workbook()
    ws = wb.active
    for row in table:
        ws.append(row)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


MESSY = [
    ["DANH SÁCH HỌC VIÊN LỚP BỒI DƯỠNG"],
    [],
    ["STT", "Họ và tên", "Đơn vị", "Chức vụ", "Số điện thoại", "Email"],
    [1, "  Hoàng Văn Minh ", "Đoàn Thanh niên Sở Nội vụ", "Bí thư", 987654321, "minh@example.vn"],
    [2, "@Nguyễn Văn A", "Đoàn Thanh niên Sở Nội vụ", "Phó Bí thư", "", ""],
    [3, "Đỗ Thị Lan", "", "Bí thư", "", ""],
    [4, "Nguyễn Thị Hương", "đoàn thanh niên sở tài chính", "Bí thư", "", "huong@example.vn"],
    [],
    [5, "Vũ Thanh Tùng", "Đoàn Thanh niên Sở Du lịch", "", "0912345678", ""],
]


def upload(client, world, data: bytes, name="roster.xlsx", follow=False):
    return client.post(f"/courses/{world.course.id}/import", data={"csrf": csrf(client)},
                       files={"roster": (name, data, "application/octet-stream")}, follow_redirects=follow)


def test_template_workbook_downloads_and_reads_back_as_a_roster(signed_in, world):
    answer = signed_in.get(f"/courses/{world.course.id}/import/template.xlsx")
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("application/vnd.openxmlformats")
    wb = openpyxl.load_workbook(io.BytesIO(answer.content))
    ws = wb.active
    ws["B2"], ws["C2"], ws["E2"] = "Lê Văn An", "Đoàn Thanh niên Sở Tư pháp", "0912000333"
    out = io.BytesIO()
    wb.save(out)
    location = upload(signed_in, world, out.getvalue()).headers["location"]
    page = signed_in.get(location)
    assert 'id="count-rows">1<' in page.text and "0912000333" in page.text


def test_upload_page_explains_the_next_step(signed_in, world):
    page = signed_in.get(f"/courses/{world.course.id}/import")
    assert page.status_code == 200 and "nothing is added to the course until you confirm" in page.text


def test_messy_xlsx_preview_shows_rows_problems_and_duplicates_and_writes_nothing(signed_in, world):
    before = rows(world, "SELECT COUNT(*) FROM participants")
    answer = upload(signed_in, world, xlsx(MESSY))
    assert answer.status_code == 303
    page = signed_in.get(answer.headers["location"])
    assert page.status_code == 200
    text = page.text
    assert 'id="count-rows">3<' in text and 'id="count-problems">2<' in text
    assert "Looks like a formula" in text and "Unit missing" in text
    assert "<td>5</td>" in text and "<td>6</td>" in text  # the problem rows' numbers as Excel shows them
    # Likely duplicates: same name and unit (unit spelt in lower case), and same phone as someone on the course.
    assert "same name and unit" in text and "same phone number" in text
    assert re.search(r'<tr class="suspicious">\s*<td>9</td>', text)  # same phone, another name
    assert "0987654321" in text  # the leading zero Excel dropped is back
    assert rows(world, "SELECT COUNT(*) FROM participants") == before
    assert rows(world, "SELECT COUNT(*) FROM pending_imports") == [(1,)]


def test_preview_speaks_vietnamese_by_default_and_english_when_chosen(client, world):
    sign_in(client)  # no language cookie: the site's default, Vietnamese
    location = upload(client, world, xlsx(MESSY)).headers["location"]
    page = client.get(location)
    assert page.status_code == 200
    assert "Thiếu đơn vị" in page.text  # the code's label
    assert "Dòng 6 (Đỗ Thị Lan): thiếu đơn vị; mỗi học viên cần có đơn vị để lập báo cáo điểm danh." in page.text
    assert "đã thêm lại số 0 ở đầu mà Excel làm mất" in page.text  # a note
    assert "is empty" not in page.text and '<span lang="en">' not in page.text
    # The same upload on an English page: parsed again in English, not taken from the Vietnamese parse.
    client.cookies.set("lang", "en")
    english = client.get(location)
    assert "Row 6 (Đỗ Thị Lan): the unit (đơn vị) is empty; every participant needs one for the attendance report." in (
        english.text)
    assert "thiếu đơn vị" not in english.text
    client.cookies.delete("lang")
    refused = upload(client, world, b"%PDF-1.4 not a roster", name="roster.pdf")
    assert refused.status_code == 422 and "Tệp này không phải tệp Excel (.xlsx) cũng không phải tệp văn bản CSV." in (
        refused.text)


def test_confirm_imports_recognised_rows_together_and_removes_the_upload(signed_in, world):
    location = upload(signed_in, world, xlsx(MESSY)).headers["location"]
    answer = signed_in.post(location + "/confirm", data={"csrf": csrf(signed_in)}, follow_redirects=False)
    # Row 9 shares the seeded people's phone under another name: a new person, not an update of one of them.
    assert answer.status_code == 303 and "added=2&updated=1" in answer.headers["location"]
    assert rows(world, "SELECT full_name, phone FROM participants WHERE full_name = 'Hoàng Văn Minh'") == [
        ("Hoàng Văn Minh", "0987654321")]
    assert rows(world, "SELECT COUNT(*) FROM enrolments WHERE course_id = ?", world.course.id) == [(6,)]
    assert rows(world, "SELECT COUNT(*) FROM pending_imports") == [(0,)]
    assert rows(world, "SELECT action, detail FROM audit_log WHERE action = 'roster_imported'") == [
        ("roster_imported", "added 2, updated 1, unchanged 0, left out 2")]
    # A second confirm of the same upload (double click, reload) imports nothing more.
    again = signed_in.post(location + "/confirm", data={"csrf": csrf(signed_in)})
    assert again.status_code == 404 and "import_not_found" in again.text
    assert rows(world, "SELECT COUNT(*) FROM enrolments WHERE course_id = ?", world.course.id) == [(6,)]


def test_reimport_keeps_checkins(signed_in, client, world):
    client.post("/api/v1/scans", json={"code": world.course.codes[0]}, headers={"Authorization": f"Bearer {world.course.token}"})
    table = [["Họ và tên", "Đơn vị", "Chức vụ"], ["Nguyễn Thị Hương", "Đoàn Thanh niên Sở Tài chính", "Phó Bí thư"]]
    location = upload(signed_in, world, xlsx(table)).headers["location"]
    signed_in.post(location + "/confirm", data={"csrf": csrf(signed_in)})
    assert rows(world, "SELECT position FROM participants WHERE full_name = 'Nguyễn Thị Hương' ORDER BY id LIMIT 1") == [
        ("Phó Bí thư",)]
    assert rows(world, "SELECT COUNT(*) FROM attendance") == [(1,)]


CSV_TEXT = "Họ và tên;Đơn vị;Số điện thoại\nLê Thị Mai;Đoàn Thanh niên Sở Y tế;0903111222\nTrần Quốc Bảo;Đoàn Thanh niên Sở Y tế;\n"


def cp1258(text: str) -> bytes:
    """Vietnamese Windows: base letters (with circumflex, breve, horn) plus combining tone marks."""
    out = b""
    for ch in text:
        try:
            out += ch.encode("cp1258")
        except UnicodeEncodeError:
            parts = unicodedata.normalize("NFD", ch)
            for k in (2, 1):
                try:
                    out += (unicodedata.normalize("NFC", parts[:k]) + parts[k:]).encode("cp1258")
                    break
                except UnicodeEncodeError:
                    continue
    return out


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-16", "cp1258", "utf-8"])
def test_csv_in_each_encoding_previews_two_rows(signed_in, world, encoding):
    text = CSV_TEXT if encoding != "utf-16" else CSV_TEXT.replace(";", "\t")
    data = cp1258(text) if encoding == "cp1258" else text.encode(encoding)
    location = upload(signed_in, world, data, name="roster.csv").headers["location"]
    page = signed_in.get(location)
    assert 'id="count-rows">2<' in page.text and "Lê Thị Mai" in page.text and "Trần Quốc Bảo" in page.text


@pytest.mark.parametrize("data, name, label", [
    (b"%PDF-1.4 not a roster", "roster.pdf", "Not a spreadsheet"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 600, "old.xls", "A format that cannot be read"),
    ("Ghi chú\nxin chào\n".encode(), "notes.csv", "No header row found"),
])
def test_unreadable_file_is_refused_with_a_message_and_nothing_kept(signed_in, world, data, name, label):
    answer = upload(signed_in, world, data, name=name)
    assert answer.status_code == 422 and label in answer.text and 'role="alert"' in answer.text
    assert rows(world, "SELECT COUNT(*) FROM pending_imports") == [(0,)]


def test_upload_over_the_size_limit_is_refused(tmp_path, world, clock):
    from checkin.app import create_app
    from starlette.testclient import TestClient

    settings = replace(world.settings, max_upload_bytes=2000)
    with TestClient(create_app(settings, clock=clock)) as small:
        small.cookies.set("lang", "en")
        sign_in(small)
        big = upload(small, world, b"x" * 70_000, name="big.csv")
        assert big.status_code == 413 and "file_too_large" in big.text
        just_over = upload(small, world, ("Họ và tên,Đơn vị\n" + "A,B\n" * 600).encode(), name="r.csv")
        assert just_over.status_code == 422 and "The file is too large" in just_over.text


def test_upload_without_csrf_is_refused(signed_in, world):
    answer = signed_in.post(f"/courses/{world.course.id}/import", files={"roster": ("r.xlsx", xlsx(MESSY), "x")})
    assert answer.status_code == 403
    assert rows(world, "SELECT COUNT(*) FROM pending_imports") == [(0,)]


def test_another_organiser_cannot_see_or_confirm_my_upload(signed_in, client, world, app):
    location = upload(signed_in, world, xlsx(MESSY)).headers["location"]
    from starlette.testclient import TestClient

    with TestClient(app) as other:
        sign_in(other, "outsider")
        assert other.get(location).status_code == 403  # not an organiser of the course
    conn = world.conn()
    conn.execute("INSERT INTO course_organisers (course_id, organiser_id) VALUES (?, 2)", (world.course.id,))
    conn.close()
    with TestClient(app) as other:
        sign_in(other, "outsider")
        assert other.get(location).status_code == 404  # a co-organiser, but not the one who uploaded it
        assert other.post(location + "/confirm", data={"csrf": csrf(other)}).status_code == 404
    assert rows(world, "SELECT COUNT(*) FROM pending_imports") == [(1,)]


def test_expired_upload_cannot_be_confirmed(signed_in, world):
    location = upload(signed_in, world, xlsx(MESSY)).headers["location"]
    world.clock.advance(hours=3)
    assert signed_in.post(location + "/confirm", data={"csrf": csrf(signed_in)}).status_code == 404


def test_cancel_deletes_the_upload(signed_in, world):
    location = upload(signed_in, world, xlsx(MESSY)).headers["location"]
    answer = signed_in.post(location + "/cancel", data={"csrf": csrf(signed_in)}, follow_redirects=False)
    assert answer.status_code == 303
    assert rows(world, "SELECT COUNT(*) FROM pending_imports") == [(0,)]


# ---------------------------------------------------------------- the pure preview


from checkin.course.importing import preview_roster  # noqa: E402
from checkin.roster import RosterParse, RosterRow  # noqa: E402
from checkin.store.people import RosterEntry  # noqa: E402

ON_COURSE = [
    RosterEntry(1, 1, "Nguyễn Thị Hương", "Đoàn Thanh niên Sở Tài chính", "Bí thư", "0912000001", "", "DV1"),
    RosterEntry(2, 2, "Trần Văn Nam", "Đoàn Thanh niên Sở Y tế", "Phó Bí thư", "0912000002", "", ""),
]


@pytest.mark.parametrize("row, action, basis, suspicious, changes", [
    (("Lê Văn Mới", "Đoàn Thanh niên Sở Du lịch", "", "", ""), "add", "", False, ()),
    # Another spelling of the same unit is the same unit, not a change.
    (("NGUYEN THI HUONG", "đoàn thanh niên sở tài chính", "Bí thư", "", ""), "update", "name_unit", False,
     ("full_name",)),
    (("Nguyễn Thị Hương", "Đoàn Thanh niên Sở Tài chính", "Bí thư", "", ""), "unchanged", "name_unit", False, ()),
    # Same phone or member code under another name: another person (an office phone), added and flagged.
    (("Phạm Văn Khác", "Đoàn Thanh niên Sở Y tế", "", "0912000002", ""), "add", "phone", True, ()),
    (("Phạm Văn Khác", "Đoàn Thanh niên Sở Tài chính", "", "", "DV1"), "add", "member_code", True, ()),
    (("Tran Van Nam", "Đoàn Thanh niên Sở Khác", "", "0912000002", ""), "update", "phone", False, ("full_name", "unit")),
    (("Nguyễn Thị Hương", "Đoàn Thanh niên Cục Thuế", "", "", "DV1"), "update", "member_code", False, ("unit",)),
])
def test_preview_matches_like_the_import(row, action, basis, suspicious, changes):
    name, unit, position, phone, code = row
    parsed = RosterParse((RosterRow(5, name, unit, position, phone, "", code),), (), 1, {}, ())
    (plan,) = preview_roster(parsed, ON_COURSE).plans
    assert (plan.action, plan.basis, plan.suspicious, plan.changes) == (action, basis, suspicious, changes)
    assert (plan.match is not None) == (basis != "")


def test_preview_counts_a_person_twice_in_the_file_as_one_new_person():
    rows_ = (RosterRow(3, "Lê Văn Mới", "Sở Du lịch", "", "0912999999", "", ""),
             RosterRow(4, "Lê Văn Mới", "Sở Du lịch", "Bí thư", "", "", ""))
    preview = preview_roster(RosterParse(rows_, (), 1, {}, ()), ON_COURSE)
    assert [p.action for p in preview.plans] == ["add", "update"]
    assert preview.duplicates == []  # the second row matches the first, not someone already on the course


def test_two_cadres_with_their_units_office_phone_stay_two_people(signed_in, world):
    # Everyone seeded has 0912345678; a new cadre of the Sở Y tế gives the same office phone.
    table = [["Họ và tên", "Đơn vị", "Số điện thoại"],
             ["Hoàng Thị Yến", "Đoàn Thanh niên Sở Y tế", "0912345678"],
             ["Trần Văn Nam", "Đoàn Thanh niên Sở Y tế", ""]]
    location = upload(signed_in, world, xlsx(table)).headers["location"]
    page = signed_in.get(location).text
    assert re.search(r'<tr class="suspicious">\s*<td>2</td>', page) and "added as a new person" in page
    answer = signed_in.post(location + "/confirm", data={"csrf": csrf(signed_in)}, follow_redirects=False)
    assert "added=1&updated=0&unchanged=1" in answer.headers["location"]
    names = rows(world, "SELECT p.full_name FROM enrolments e JOIN participants p ON p.id = e.participant_id"
                 " WHERE e.course_id = ? ORDER BY e.id", world.course.id)
    assert names == [("Nguyễn Thị Hương",), ("Trần Văn Nam",), ("Lê Minh Đức",), ("Phạm Thu Trang",), ("Hoàng Thị Yến",)]


def test_a_repeated_row_matches_the_details_an_earlier_row_gave():
    rows_ = (RosterRow(3, "Trần Văn Nam", "Đoàn Thanh niên Sở Y tế", "", "0912000099", "", "DV2"),
             RosterRow(4, "Tran Van Nam", "Sở Y tế (mới)", "Bí thư", "0912000099", "", ""))
    preview = preview_roster(RosterParse(rows_, (), 1, {}, ()), ON_COURSE)
    assert [(p.action, p.basis, p.changes) for p in preview.plans] == [
        ("update", "name_unit", ("phone", "member_code")), ("update", "phone", ("full_name", "unit", "position"))]
    assert all(p.match is not None and p.match.enrolment_id == 2 for p in preview.plans)
