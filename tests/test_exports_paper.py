"""Printable sign-in sheets (read back with a PDF text extractor) and entering their ticks afterwards."""

from __future__ import annotations

import pypdfium2 as pdfium
import pytest

from checkin.store import audit, reports, scans

from .conftest import local, sign_in


def pdf_pages(data: bytes) -> list[str]:
    doc = pdfium.PdfDocument(data)
    try:
        return [doc[i].get_textpage().get_text_range() for i in range(len(doc))]
    finally:
        doc.close()


def csrf_of(page_text: str) -> str:
    return page_text.split('name="csrf" value="', 1)[1].split('"', 1)[0]


def test_sign_in_sheets_have_a_page_per_unit_with_names_numbers_and_a_signature_column(client, world):
    sign_in(client)
    opening = world.course.sessions[0]
    answer = client.get(f"/courses/{world.course.id}/sign-in-sheets.pdf", params={"session": opening})
    assert answer.status_code == 200 and answer.headers["content-type"] == "application/pdf"
    pages = pdf_pages(answer.content)
    assert len(pages) == 3  # three units, one short page each
    tai_chinh = next(p for p in pages if "Đơn vị: Đoàn Thanh niên Sở Tài chính" in p)
    assert "DANH SÁCH KÝ NHẬN THAM DỰ" in tai_chinh and "Chuyên đề: Khai mạc" in tai_chinh
    assert "Ký tên" in tai_chinh and "Mã số" in tai_chinh
    assert "Nguyễn Thị Hương" in tai_chinh and "Lê Minh Đức" in tai_chinh and "Trần Văn Nam" not in tai_chinh
    assert f"Nguyễn Thị Hương Bí thư {world.course.enrolments[0]}" in tai_chinh.replace("\r\n", " ")
    # No badge code is printed: it is a bearer secret.
    assert all(code not in "".join(pages) for code in world.course.codes)


def test_sign_in_sheets_for_one_unit_and_every_session(client, world):
    sign_in(client)
    answer = client.get(f"/courses/{world.course.id}/sign-in-sheets.pdf", params={"unit": "Đoàn Thanh niên Sở Y tế"})
    pages = pdf_pages(answer.content)
    assert len(pages) == 3  # one unit, three sessions
    assert ["Khai mạc" in pages[0], "Chuyên đề 1" in pages[1], "Chuyên đề 2" in pages[2]] == [True] * 3
    assert client.get(f"/courses/{world.course.id}/sign-in-sheets.pdf", params={"unit": "Nowhere"}).status_code == 404


def test_sign_in_sheets_in_english(client, world):
    sign_in(client)
    answer = client.get(f"/courses/{world.course.id}/sign-in-sheets.pdf",
                        params={"unit": "Đoàn Thanh niên Sở Y tế", "lang": "en"})
    first = pdf_pages(answer.content)[0]
    assert "ATTENDANCE SIGN-IN SHEET" in first and "Session: Khai mạc" in first and "Signature" in first
    assert "Unit: Đoàn Thanh niên Sở Y tế" in first and "Sheet 1/1" in first
    assert "Ký tên" not in first
    refused = client.get(f"/courses/{world.course.id}/sign-in-sheets.pdf", params={"lang": "xx"})
    assert refused.status_code == 422 and "bad_language" in refused.text


def test_paper_ticks_become_paper_check_ins_on_time_with_events_and_an_audit_row(client, world):
    world.clock.set(local(11, 0))  # the whole morning is over: the door would refuse these now
    sign_in(client)
    topic1 = world.course.sessions[1]
    page = client.get(f"/courses/{world.course.id}/paper", params={"session": topic1})
    assert page.status_code == 200 and page.template.name == "reports/paper.html"
    assert page.text.count('name="tick"') == 4
    e = world.course.enrolments
    answer = client.post(f"/courses/{world.course.id}/paper", data={
        "csrf": csrf_of(page.text), "session": str(topic1), "unit": "*", "tick": [str(e[0])],
        "numbers": f"{e[1]}, {e[2]} {e[1]}",
    }, follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == f"/courses/{world.course.id}/paper?session={topic1}&unit=%2A&entered=3&already=0"

    conn = world.conn()
    attendance = {(r.enrolment_id, r.session_id): r for r in scans.list_attendance(conn, world.course.id)}
    log = reports.list_scan_log(conn, world.course.id)
    events = scans.list_events(conn, world.course.id, 0)
    trail = audit.list_audit_log(conn, world.course.id)
    conn.close()
    assert {k for k in attendance if k[1] == topic1} == {(e[0], topic1), (e[1], topic1), (e[2], topic1)}
    assert all(attendance[(x, topic1)].status == "present" for x in e[:3])
    assert attendance[(e[0], topic1)].checked_in_at == local(8, 40)  # the session's start
    assert [(s.method, s.reason, s.organiser) for s in log] == [("paper", "checked_in", "Nguyễn Lan")] * 3
    assert [ev.payload["method"] for ev in events] == ["paper"] * 3
    assert [(a.action, a.subject, a.detail) for a in trail] == [("paper_entry", "Chuyên đề 1", "3 ticked")]

    again = client.get(answer.headers["location"])
    assert "Đã nhập: 3. Đã điểm danh từ trước: 0." in again.text
    assert again.text.count('name="tick"') == 1  # only Phạm Thu Trang is left to tick
    second = client.post(f"/courses/{world.course.id}/paper", data={
        "csrf": csrf_of(again.text), "session": str(topic1), "numbers": str(e[0])}, follow_redirects=False)
    assert second.headers["location"].endswith("entered=0&already=1")


@pytest.mark.parametrize("numbers", ["999999", "1 2 999999"])
def test_a_number_not_on_the_course_enters_nothing(client, world, numbers):
    sign_in(client)
    page = client.get(f"/courses/{world.course.id}/paper", params={"session": world.course.sessions[0]})
    answer = client.post(f"/courses/{world.course.id}/paper", data={
        "csrf": csrf_of(page.text), "session": str(world.course.sessions[0]), "numbers": numbers})
    assert answer.status_code == 422 and "999999" in answer.text
    conn = world.conn()
    assert scans.list_scans(conn, world.course.id) == []
    conn.close()


def test_paper_entry_needs_the_form_token_and_a_session(client, world):
    sign_in(client)
    url = f"/courses/{world.course.id}/paper"
    assert client.post(url, data={"session": str(world.course.sessions[0]), "numbers": "1"}).status_code == 403
    page = client.get(url)
    assert client.post(url, data={"csrf": csrf_of(page.text), "numbers": "1"}).status_code == 422
    other = client.post(url, data={"csrf": csrf_of(page.text), "session": str(world.other.sessions[0])})
    assert other.status_code == 404


@pytest.mark.parametrize("path", ["paper", "certificates/rule", "certificates.pdf"])
def test_report_forms_check_the_form_token_first_like_every_organiser_page(client, world, path):
    sign_in(client)
    for course_id in (world.other.id, 999_999):  # not this organiser's course; no such course
        answer = client.post(f"/courses/{course_id}/{path}", data={"session": "1", "numbers": "1"})
        assert answer.status_code == 403 and "csrf_failed" in answer.text


@pytest.mark.parametrize("path", ["reports", "paper", "live", "attendance"])
def test_report_and_live_pages_send_a_signed_out_organiser_to_sign_in_and_back(client, world, path):
    answer = client.get(f"/courses/{world.course.id}/{path}", follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == f"/login?next=/courses/{world.course.id}/{path}"


def test_paper_entry_takes_no_files(client, world):
    sign_in(client)
    page = client.get(f"/courses/{world.course.id}/paper", params={"session": world.course.sessions[0]})
    answer = client.post(f"/courses/{world.course.id}/paper",
                         data={"session": str(world.course.sessions[0]), "numbers": "", "csrf": csrf_of(page.text)},
                         files={"sheet": ("sheet.pdf", b"%PDF-1.4", "application/pdf")})
    assert answer.status_code == 400
