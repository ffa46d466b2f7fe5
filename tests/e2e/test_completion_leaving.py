"""The usher's scanner in Leaving mode ("Ra về"), in a real browser with the fake camera: the mode is offered
only when the course takes exit scans, is unmistakable (another colour, announced text), and a badge then
records a departure through the same scan path."""

from __future__ import annotations

from playwright.sync_api import expect

from checkin.door.scanning import ScanInput, record_scan_tx
from checkin.store import completion
from checkin.store.completion import CompletionRule
from checkin.store.db import transaction
from tests.conftest import local
from tests.e2e.test_scanner import badge_scene, door, expect_answer, open_scanner  # noqa: F401 (fixtures)


def set_exit_scans(door, on: bool) -> None:  # noqa: F811
    conn = door.conn()
    try:
        with transaction(conn):
            completion.set_rule(conn, CompletionRule(door.course_id, exit_scans=on, min_present_pct=75), door.clock())
    finally:
        conn.close()


def check_in(door, code: str) -> None:  # noqa: F811
    conn = door.conn()
    try:
        with transaction(conn):
            record_scan_tx(conn, ScanInput(course_id=door.course_id, method="camera", code=code), door.clock())
    finally:
        conn.close()


def test_usher_in_leaving_mode_records_a_departure(door, open_scanner, page_factory):  # noqa: F811
    person = door.people["Hoàng Thị Lan"]
    set_exit_scans(door, True)
    try:
        door.clock.set(local(7, 58))
        check_in(door, person.code)
        door.clock.set(local(8, 10))  # 10 of the opening's 30 minutes: below 75%
        page, device_id = open_scanner(person.code, start=False)
        toggle = page.locator("#direction-toggle")
        expect(toggle).to_be_visible()
        expect(page.locator("#direction-banner")).to_have_text("Arriving: scans record check-ins")
        toggle.click()
        expect(toggle).to_have_attribute("aria-pressed", "true")
        expect(page.locator("#direction-banner")).to_have_text("LEAVING (Ra về): scans record departures")
        expect(page.locator("#direction-banner")).to_have_attribute("role", "status")
        expect(page.locator("body")).to_have_class("usher-page scanner-page leaving")
        expect(page.locator("#scanner")).to_have_attribute("data-direction", "out")
        expect(page.locator("body")).to_have_css("background-color", "rgb(239, 231, 251)")  # violet: not arrivals

        page.locator("#start").click()
        expect_answer(page, "out", "Left: departure recorded", person.name)
        expect(page.locator("#result")).to_have_attribute("data-reason", "checked_out")
        expect(page.locator("#result")).to_have_css("background-color", "rgb(91, 42, 134)")
        [scan] = door.scans(device_id=device_id)
        assert (scan["reason"], scan["accepted"], scan["method"]) == ("checked_out", 1, "camera")
        [row] = [r for r in door.attendance(person.enrolment_id) if r["session_id"] == door.sessions[0]]
        assert (row["status"], row["left_early"], row["checkout_scan_id"]) == ("present", 1, scan["id"])

        # Undo from the door puts the person back; the page says what was undone.
        page.locator("#undo").click()
        expect_answer(page, "undone", "Departure undone", person.name)
        [row] = [r for r in door.attendance(person.enrolment_id) if r["session_id"] == door.sessions[0]]
        assert (row["checked_out_at"], row["left_early"]) == (None, 0)

        # Back to arriving: the page's colour and banner change back.
        page.locator("#direction-toggle").click()
        expect(page.locator("#direction-banner")).to_have_text("Arriving: scans record check-ins")
        expect(page.locator("#scanner")).to_have_attribute("data-direction", "in")
        assert page_factory.log(page).external_requests == []
    finally:
        set_exit_scans(door, False)


def test_leaving_before_a_check_in_is_red_and_without_exit_scans_no_toggle(door, open_scanner):  # noqa: F811
    person = door.people["Vũ Đức Anh"]
    set_exit_scans(door, True)
    try:
        door.clock.set(local(8, 12))
        page, device_id = open_scanner(person.code, start=False)
        page.locator("#direction-toggle").click()
        page.locator("#start").click()
        expect_answer(page, "bad", "Not checked in to this session: nothing to leave", person.name)
        assert [s["reason"] for s in door.scans(device_id=device_id)] == ["not_checked_in"]
    finally:
        set_exit_scans(door, False)
    page, _ = open_scanner(None)
    expect(page.locator("#door")).to_be_visible()
    expect(page.locator("#direction")).to_be_hidden()
