"""What an organiser sees and does, in a real browser: sign-in, roster import with preview and
confirm, a walk-in at the door, and the language switch."""

from __future__ import annotations


import re

import openpyxl
import pytest
from playwright.sync_api import expect

from checkin.app import create_app


@pytest.fixture
def site(world, live_server):
    return live_server(create_app(world.settings, clock=world.clock))


def _expected(error: str) -> bool:
    """A refused form (400 wrong password, 422 invalid field) is a page the server chose to answer
    with; Chromium logs it as a failed resource. Scripts, styles and the like must still load."""
    return "Failed to load resource: the server responded with a status of 4" in error and "/static/" not in error


@pytest.fixture
def page(page_factory):
    page = page_factory(locale="en-GB", extra_http_headers={"Accept-Language": "en"})
    yield page
    log = page_factory.log(page)
    log.errors[:] = [e for e in log.errors if not _expected(e)]


def sign_in(page, site, username="lan", password="correct horse battery"):
    page.goto(site + "/login")
    page.get_by_label("User name").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def rows(world, sql, *args):
    conn = world.conn()
    try:
        return [tuple(r) for r in conn.execute(sql, args).fetchall()]
    finally:
        conn.close()


def test_sign_in_shows_my_courses_and_a_wrong_password_says_so(page, site):
    sign_in(page, site, password="wrong password")
    expect(page.locator("#login-error")).to_have_text("The user name or password is not right. Try again.")
    sign_in(page, site)
    expect(page.get_by_role("heading", name="Courses")).to_be_visible()
    expect(page.get_by_role("link", name="Lớp bồi dưỡng cán bộ Đoàn")).to_be_visible()
    expect(page.get_by_text("Lớp tập huấn khác")).to_have_count(0)


def test_import_preview_then_confirm(page, site, world, tmp_path):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["DANH SÁCH HỌC VIÊN"])
    ws.append(["STT", "Họ và tên", "Đơn vị", "Chức vụ", "Số điện thoại"])
    ws.append([1, "Hoàng Văn Minh", "Đoàn Thanh niên Sở Nội vụ", "Bí thư", 987654321])
    ws.append([2, "Đỗ Thị Lan", "", "Bí thư", ""])
    ws.append([3, "Vũ Thanh Tùng", "Đoàn Thanh niên Sở Du lịch", "Phó Bí thư", ""])
    path = tmp_path / "danh-sach.xlsx"
    wb.save(path)

    sign_in(page, site)
    page.goto(f"{site}/courses/{world.course.id}/import")
    page.get_by_label("Roster file").set_input_files(str(path))
    page.get_by_role("button", name="Upload and preview").click()
    expect(page.locator("#count-rows")).to_have_text("2")
    expect(page.locator("#count-problems")).to_have_text("1")
    expect(page.get_by_role("cell", name="Unit missing", exact=False)).to_be_visible()
    assert rows(world, "SELECT COUNT(*) FROM participants WHERE full_name = 'Hoàng Văn Minh'") == [(0,)]
    page.get_by_role("button", name="Import 2 rows").click()
    expect(page.locator("#import-result")).to_have_text("Roster imported: 2 added, 0 updated, 0 unchanged.")
    expect(page.get_by_role("link", name="Hoàng Văn Minh")).to_be_visible()
    assert rows(world, "SELECT phone FROM participants WHERE full_name = 'Hoàng Văn Minh'") == [("0987654321",)]


def test_walk_in_is_registered_and_checked_in(page, site, world):
    sign_in(page, site)
    page.goto(f"{site}/courses/{world.course.id}/walk-in")
    page.get_by_label("Full name").fill("Đinh Công Sơn")
    page.get_by_label("Unit").fill("Đoàn Thanh niên Sở Xây dựng")
    expect(page.get_by_label("Check in to")).to_have_value(str(world.course.sessions[0]))
    page.get_by_role("button", name="Register and check in").click()
    expect(page.locator("#done")).to_have_text("Checked in.")
    expect(page.locator("#person-name")).to_have_text("Đinh Công Sơn")
    assert rows(world, "SELECT s.method, s.reason FROM scans s JOIN enrolments e ON e.id = s.enrolment_id"
                " JOIN participants p ON p.id = e.participant_id WHERE p.full_name = 'Đinh Công Sơn'") == [
        ("manual", "checked_in")]


def test_language_switch_is_remembered(page_factory, site, world):
    page = page_factory(locale="vi-VN")
    sign_in_vi = page.goto(site + "/login")
    assert sign_in_vi.ok
    expect(page.get_by_role("heading", level=1)).to_have_text("Ban Tổ chức đăng nhập")
    page.get_by_role("link", name="English").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Organiser sign-in")
    sign_in(page, site)
    page.goto(f"{site}/courses/{world.course.id}/people")
    expect(page.get_by_role("heading", name="Participants")).to_be_visible()
    page.get_by_role("link", name="Tiếng Việt").click()
    expect(page.get_by_role("heading", name="Học viên")).to_be_visible()


def test_correct_by_hand_then_undo_then_revoke_the_badge(page, site, world):
    sign_in(page, site)
    page.goto(f"{site}/courses/{world.course.id}/people/{world.course.enrolments[1]}")
    session = page.locator(f"#session-{world.course.sessions[0]}")
    session.get_by_text("Check in by hand").click()
    session.get_by_label("Why by hand").fill("Thẻ bị mờ")
    session.get_by_role("button", name="Check in").click()
    expect(page.locator("#done")).to_have_text("Checked in.")
    session = page.locator(f"#session-{world.course.sessions[0]}")
    expect(session.get_by_role("cell", name="by hand")).to_be_visible()
    session.get_by_text("Undo", exact=True).click()
    session.get_by_label("Why undo it").fill("Nhầm người")
    session.get_by_role("button", name="Undo this check-in").click()
    expect(page.locator("#done")).to_have_text("The check-in was undone.")
    questions = []
    page.on("dialog", lambda dialog: (questions.append(dialog.message), dialog.accept()))
    page.get_by_role("button", name="Revoke the badge").click()
    expect(page.locator("#done")).to_have_text("The badge was revoked; scanning it is refused.")
    assert questions == ["Revoke this badge? Scanning it will be refused."]
    assert rows(world, "SELECT action FROM audit_log WHERE subject = ? ORDER BY id",
                f"enrolment {world.course.enrolments[1]}") == [("manual_checkin",), ("badge_revoked",)]


def test_change_my_password_from_the_header(page, site, world):
    sign_in(page, site)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Password").click()
    expect(page.get_by_role("heading", name="Change your password")).to_be_visible()
    page.get_by_label("Current password").fill("correct horse battery")
    page.get_by_label(re.compile(r"^New password\W*$")).fill("a new password for Lan")
    page.get_by_label("New password again").fill("a new password, mistyped")
    page.get_by_role("button", name="Change password").click()
    expect(page.locator("#f-again-error")).to_have_text("The two new passwords differ. Type the same one twice.")
    expect(page.get_by_label("New password again")).to_have_attribute("aria-invalid", "true")
    page.get_by_label("Current password").fill("correct horse battery")
    page.get_by_label(re.compile(r"^New password\W*$")).fill("a new password for Lan")
    page.get_by_label("New password again").fill("a new password for Lan")
    page.get_by_role("button", name="Change password").click()
    expect(page.get_by_role("status")).to_contain_text("Your password is changed.")
    page.get_by_role("button", name="Sign out").click()
    sign_in(page, site, password="a new password for Lan")
    expect(page.get_by_role("heading", name="Courses")).to_be_visible()


def _pdf_text(path) -> str:
    import pypdfium2 as pdfium

    doc = pdfium.PdfDocument(str(path))
    try:
        return "\n".join(doc[i].get_textpage().get_text_range() for i in range(len(doc)))
    finally:
        doc.close()


def test_reports_page_downloads_sign_in_sheets_in_english_and_certificates_in_vietnamese(page, site, world, tmp_path):
    sign_in(page, site)
    page.goto(f"{site}/courses/{world.course.id}/reports")
    sheets = page.get_by_role("region", name="Paper sign-in sheets")
    sheets.get_by_label("Unit").select_option(label="Đoàn Thanh niên Sở Y tế")
    sheets.get_by_label("Language of the document").select_option("en")
    with page.expect_download() as download:
        sheets.get_by_role("button", name="Download the sign-in sheets (PDF)").click()
    path = tmp_path / "sheets.pdf"
    download.value.save_as(path)
    text = _pdf_text(path)
    assert "ATTENDANCE SIGN-IN SHEET" in text and "Unit: Đoàn Thanh niên Sở Y tế" in text

    certificates = page.get_by_role("region", name="Certificates of attendance")
    expect(certificates.get_by_label("Language of the document")).to_have_value("vi")
    with page.expect_download() as download:
        certificates.get_by_role("button", name="Issue and download the certificates (PDF)").click()
    path = tmp_path / "certificates.pdf"
    download.value.save_as(path)
    assert "Chưa có học viên nào đủ điều kiện nhận giấy chứng nhận." in _pdf_text(path)
