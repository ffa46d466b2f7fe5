"""The completion wing in real browsers: a cadre's phone (fake camera) reading the room code from a screenshot of
the organiser's screen, the same code replayed 30 s later refused; feedback and a reflection from the badge page;
the organiser returning a reflection and the cadre resubmitting; certificates only for those who complete."""

from __future__ import annotations

import io
import re

from PIL import Image
from playwright.sync_api import expect

import fakecam
from checkin.door.scanning import ScanInput, record_scan_tx
from checkin.store import completion
from checkin.store.completion import CompletionRule
from checkin.store.db import transaction
from tests.conftest import local
from tests.e2e.test_scanner import door  # noqa: F401 (the module's server and course)


def set_rule(door, **rule) -> None:  # noqa: F811
    conn = door.conn()
    try:
        with transaction(conn):
            completion.set_rule(conn, CompletionRule(door.course_id, **rule), door.clock())
    finally:
        conn.close()


def check_in(door, code: str, session_index: int) -> None:  # noqa: F811
    conn = door.conn()
    try:
        with transaction(conn):
            record_scan_tx(conn, ScanInput(course_id=door.course_id, method="camera", code=code,
                                           session_id=door.sessions[session_index]), door.clock())
    finally:
        conn.close()


def rows(door, sql: str, *args) -> list[tuple]:  # noqa: F811
    conn = door.conn()
    try:
        return [tuple(r) for r in conn.execute(sql, args).fetchall()]
    finally:
        conn.close()


def organiser_page(door, page_factory, browser, path: str, **context):  # noqa: F811
    laptop = page_factory(browser, locale="en-GB", **context)
    laptop.route("**/favicon.ico", lambda route: route.fulfill(status=204))
    laptop.goto(f"{door.url}/login?next={path}")
    laptop.locator("#username").fill("lan")
    laptop.locator("#password").fill("correct horse battery")
    laptop.locator("button[type=submit]").click()
    laptop.wait_for_url(f"{door.url}{path}")
    return laptop


def screen_to_video(png: bytes, path) -> object:
    """The laptop's screen as the phone's camera sees it: the screenshot fitted into the camera's frame."""
    shot = Image.open(io.BytesIO(png)).convert("RGB")
    shot.thumbnail(fakecam.SIZE)
    frame = Image.new("RGB", fakecam.SIZE, (fakecam.BACKGROUND,) * 3)
    frame.paste(shot, ((fakecam.SIZE[0] - shot.width) // 2, (fakecam.SIZE[1] - shot.height) // 2))
    return fakecam.write_y4m(path, frame, frames=5)


def test_a_phone_reads_the_room_code_from_the_organisers_screen_and_a_replay_is_refused(
        door, browser_factory, page_factory, tmp_path):  # noqa: F811
    door.clock.set(local(7, 56))
    laptop = organiser_page(door, page_factory, browser_factory(), f"/courses/{door.course_id}/room",
                            viewport={"width": 1024, "height": 768})
    qr = laptop.locator("#room-qr")
    expect(qr).to_be_visible()
    expect(laptop.locator("#room-screen")).to_have_attribute("data-code", re.compile(r"^CHKROOM\."))
    qr.evaluate("img => img.decode()")  # the picture drawn before the screenshot
    shown = laptop.locator("#room-screen").get_attribute("data-code")
    qr.scroll_into_view_if_needed()
    video = screen_to_video(laptop.screenshot(), tmp_path / "room.y4m")

    first, second = door.people["Đặng Thu Hà"], door.people["Bùi Quang Huy"]
    camera = browser_factory(video_path=video)
    phone = page_factory(camera, locale="vi-VN")
    phone.goto(f"{door.url}/b/{first.code}")
    phone.locator("#room-link").click()
    expect(phone.locator("h1")).to_have_text("Điểm danh tại phòng")
    phone.locator("#room-start").click()
    expect(phone.locator("#room-result")).to_have_class(re.compile(r"state-ok"), timeout=15_000)
    expect(phone.locator("#room-title")).to_have_text("Đã điểm danh")
    expect(phone.locator("#room-detail")).to_have_text("Chuyên đề: Khai mạc")
    [scan] = rows(door, "SELECT method, reason, enrolment_id FROM scans WHERE enrolment_id = ?", first.enrolment_id)
    assert scan == ("room_code", "checked_in", first.enrolment_id)
    assert phone.evaluate("window.checkinRoom.answers") == [{"reason": "checked_in"}]

    # The same picture 30 s later (a photo sent to a friend): refused, nothing written.
    door.clock.advance(seconds=30)
    friend = page_factory(camera, locale="en-GB")
    friend.goto(f"{door.url}/b/{second.code}/room")
    friend.locator("#room-start").click()
    expect(friend.locator("#room-title")).to_have_text("This room code has expired: scan the code on the screen now.",
                                                        timeout=15_000)
    expect(friend.locator("#room")).to_have_attribute("data-state", "room_code_expired")
    log = page_factory.log(friend)
    assert log.errors and all("status of 409" in e for e in log.errors), log.errors  # the refusal, and only it
    log.allow_errors = True
    assert rows(door, "SELECT COUNT(*) FROM scans WHERE enrolment_id = ?", second.enrolment_id) == [(0,)]
    # Meanwhile the organiser's screen moved on to a new code.
    expect(laptop.locator("#room-screen")).not_to_have_attribute("data-code", shown, timeout=15_000)


def test_a_second_phone_for_the_same_badge_is_refused_and_shown_on_the_screen(
        door, browser_factory, page_factory, tmp_path):  # noqa: F811
    door.clock.set(local(8, 41))
    laptop = organiser_page(door, page_factory, browser_factory(), f"/courses/{door.course_id}/room",
                            viewport={"width": 1024, "height": 768})
    expect(laptop.locator("#room-screen")).to_have_attribute("data-code", re.compile(r"^CHKROOM\."))
    laptop.locator("#room-qr").evaluate("img => img.decode()")
    laptop.locator("#room-qr").scroll_into_view_if_needed()
    video = screen_to_video(laptop.screenshot(), tmp_path / "room2.y4m")
    person = door.people["Đỗ Minh Châu"]
    camera = browser_factory(video_path=video)
    mine = page_factory(camera, locale="en-GB")
    mine.goto(f"{door.url}/b/{person.code}/room")
    mine.locator("#room-start").click()
    expect(mine.locator("#room-title")).to_have_text("Checked in", timeout=15_000)
    other = page_factory(camera, locale="en-GB")  # another phone: its own storage, so its own key
    other.goto(f"{door.url}/b/{person.code}/room")
    other.locator("#room-start").click()
    expect(other.locator("#room-title")).to_have_text(
        "Refused: this badge is bound to another phone. Ask an organiser.", timeout=15_000)
    expect(laptop.locator("#room-refused")).to_contain_text("Đỗ Minh Châu", timeout=15_000)


def test_feedback_and_a_reflection_from_the_badge_page_then_returned_and_resubmitted(
        door, browser_factory, page_factory):  # noqa: F811
    person = door.people["Ngô Thanh Tùng"]
    door.clock.set(local(7, 58))
    check_in(door, person.code, 0)
    set_rule(door, require_reflection=True, require_feedback=True)
    try:
        door.clock.set(local(8, 35))  # the opening is over
        browser = browser_factory()
        phone = page_factory(browser, locale="en-GB")
        phone.goto(f"{door.url}/b/{person.code}")
        phone.locator("#feedback-link").click()
        form = phone.locator(f"#session-{door.sessions[0]} form")
        form.get_by_label("4").first.check()
        form.locator("fieldset").nth(1).get_by_label("5").check()
        form.locator("textarea").fill("Nội dung thiết thực, cần thêm thời gian thảo luận.")
        form.locator("button[type=submit]").click()
        expect(phone.locator(f"#session-{door.sessions[0]} .done")).to_have_text(
            "✓ Thank you: your feedback for this session is recorded.")
        assert rows(door, "SELECT content_rating, speaker_rating, enrolment_id FROM feedback") == [(4, 5, None)]

        phone.goto(f"{door.url}/b/{person.code}")
        phone.locator("#reflection-link").click()
        phone.locator("#reflection-body").fill("Qua lớp học, tôi nhận thức rõ hơn về trách nhiệm của cán bộ Đoàn.")
        expect(phone.locator("#draft-status")).to_contain_text("Draft saved at", timeout=10_000)
        assert rows(door, "SELECT state, draft FROM reflections") == [
            ("draft", "Qua lớp học, tôi nhận thức rõ hơn về trách nhiệm của cán bộ Đoàn.")]
        phone.locator("#submit-text").click()
        expect(phone.locator("#reflection-state")).to_have_attribute("data-state", "submitted")

        laptop = organiser_page(door, page_factory, browser, f"/courses/{door.course_id}/reflections")
        laptop.locator("#f-state").select_option("submitted")
        laptop.locator("#reflection-filters button").click()
        laptop.get_by_role("link", name="Ngô Thanh Tùng").click()
        expect(laptop.locator("#reflection-text")).to_contain_text("trách nhiệm của cán bộ Đoàn")
        laptop.locator("#review-comment").fill("Cần nêu việc làm cụ thể ở đơn vị.")
        laptop.locator("#return").click()
        expect(laptop.locator("#reflection-review-state")).to_have_attribute("data-state", "returned")

        phone.reload()
        expect(phone.locator("#review-comment")).to_contain_text("Cần nêu việc làm cụ thể ở đơn vị.")
        expect(phone.locator("#reflection-state")).to_have_attribute("data-state", "returned")
        phone.locator("#reflection-body").fill("Bản sửa: ở đơn vị, tôi sẽ tổ chức sinh hoạt chuyên đề hằng tháng.")
        phone.locator("#submit-text").click()
        expect(phone.locator("#reflection-state")).to_have_attribute("data-state", "submitted")

        laptop.reload()
        expect(laptop.locator("#reflection-text")).to_contain_text("sinh hoạt chuyên đề hằng tháng")
        laptop.locator("#accept").click()
        expect(laptop.locator("#reflection-review-state")).to_have_attribute("data-state", "accepted")
        phone.reload()
        expect(phone.locator("#reflection-state")).to_have_attribute("data-state", "accepted")
        expect(phone.locator("#reflection-form")).to_have_count(0)
    finally:
        set_rule(door)


def test_certificates_are_issued_only_to_those_who_complete(door, browser_factory, page_factory):  # noqa: F811
    complete, partial = door.people["Dương Mỹ Linh"], door.people["Lý Văn Phúc"]
    door.clock.set(local(7, 58))
    check_in(door, complete.code, 0)
    check_in(door, partial.code, 0)
    door.clock.set(local(8, 38))
    check_in(door, complete.code, 1)
    door.clock.set(local(11, 0))
    browser = browser_factory()
    laptop = organiser_page(door, page_factory, browser, f"/courses/{door.course_id}/completion")
    laptop.locator("#f-min_sessions").fill("2")
    laptop.get_by_role("button", name="Save").click()
    expect(laptop.get_by_role("status")).to_have_text("Saved.")
    laptop.goto(f"{door.url}/courses/{door.course_id}/reports")
    missing = laptop.locator("#completion-missing")
    expect(missing.locator(f"tr[data-enrolment='{partial.enrolment_id}']")).to_contain_text(
        "1 more session(s) present (1 of 2)")
    expect(missing.locator(f"tr[data-enrolment='{complete.enrolment_id}']")).to_have_count(0)
    with laptop.expect_download(timeout=60_000) as download:
        laptop.locator("#certificates-form button[type=submit]").click()
    assert download.value.suggested_filename.endswith(".pdf")
    issued = {r[0] for r in rows(door, "SELECT enrolment_id FROM certificates WHERE revoked_at IS NULL")}
    assert complete.enrolment_id in issued and partial.enrolment_id not in issued
    set_rule(door)
