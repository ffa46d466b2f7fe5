"""The usher's scanner through a dead or slow network, in a real Chromium: answers from the offline copy,
a reload without network, the queue sent once the network is back, two doors admitting one badge, and a
revoked phone's queue. Each test checks the database afterwards: no scan lost, none counted twice.
"""

from __future__ import annotations

import re
import time
from datetime import timedelta

import pytest
from playwright.sync_api import expect

import fakecam
from checkin.app import create_app
from checkin.settings import Settings
from checkin.store import devices, offline as offline_store, organisers
from checkin.door import scanning
from checkin.door.scanning import ScanInput, record_scan_tx
from checkin.store.db import open_sync, transaction
from tests.conftest import FakeClock, local, seed_course


class Venue:
    """One course on a live server with a fake clock; helpers read what the database holds."""

    def __init__(self, tmp_path, live_server):
        self.settings = Settings(data_dir=tmp_path, secret_key="offline-test-key", port=8000)
        self.clock = FakeClock(local(7, 50))
        conn = open_sync(self.settings.db_path)
        with transaction(conn):
            organiser_id = organisers.insert_organiser(conn, "lan", "Nguyễn Lan", "correct horse battery", self.clock())
            self.course = seed_course(conn, self.clock(), "Lớp bồi dưỡng cán bộ Đoàn chủ chốt", organiser_id)
        conn.close()
        self.url = live_server(create_app(self.settings, clock=self.clock))

    def query(self, sql: str, *args) -> list[dict]:
        conn = open_sync(self.settings.db_path)
        try:
            return [dict(r) for r in conn.execute(sql, args)]
        finally:
            conn.close()

    def new_device(self, label: str, expires_at=None) -> tuple[int, str]:
        conn = open_sync(self.settings.db_path)
        try:
            with transaction(conn):
                return devices.insert_device(conn, self.course.id, label, expires_at or local(23, 59), self.clock())
        finally:
            conn.close()

    def revoke(self, device_id: int) -> None:
        conn = open_sync(self.settings.db_path)
        try:
            with transaction(conn):
                devices.revoke_device(conn, device_id, self.clock())
        finally:
            conn.close()

    def scans(self, device_id: int) -> list[dict]:
        return self.query("SELECT * FROM scans WHERE device_id = ? ORDER BY id", device_id)

    def attendance(self, enrolment_id: int) -> list[dict]:
        return self.query("SELECT * FROM attendance WHERE enrolment_id = ?", enrolment_id)


@pytest.fixture
def venue(tmp_path, live_server) -> Venue:
    return Venue(tmp_path, live_server)


def open_phone(venue, browser, page_factory, label: str = "Cổng A – Lan", expires_at=None):
    """A paired phone whose scanner has its offline copy and its service worker ready."""
    device_id, token = venue.new_device(label, expires_at)
    page = page_factory(browser, locale="en-GB", allow_errors=True)  # offline requests log failures
    page.goto(f"{venue.url}/usher/pair#t={token}")
    page.wait_for_url(f"{venue.url}/usher")
    expect(page.locator("#door")).to_be_visible()
    expect(page.locator("#scanner")).to_have_attribute("data-offline-copy", "ready", timeout=10_000)
    expect(page.locator("#scanner")).to_have_attribute("data-offline-page", "ready", timeout=10_000)
    # The service worker is active: a reload without network opens the page it kept.
    assert page.evaluate("async () => (await navigator.serviceWorker.getRegistration('/usher')).active !== null")
    return page, device_id


def start_camera(page):
    page.locator("#start").click()
    expect(page.locator("#scanner")).to_have_attribute("data-state", "scanning", timeout=10_000)


def expect_offline_answer(page, state: str, title, name: str | None = None):
    result = page.locator("#result")
    expect(result).to_have_class(re.compile(rf"(^|\s)state-{state}(\s|$)"), timeout=10_000)
    expect(result).to_have_attribute("data-source", "offline")
    expect(page.locator("#result-source")).to_be_visible()
    expect(page.locator("#result-title")).to_have_text(title)
    if name is not None:
        expect(page.locator("#result-name")).to_have_text(name)


def expect_queue(page, n: int, timeout: float = 15_000):
    expect(page.locator("#net")).to_have_attribute("data-queued", str(n), timeout=timeout)


def no_page_errors(page_factory, page):
    assert not [e for e in page_factory.log(page).errors if e.startswith("pageerror")]


def badge_browser(browser_factory, tmp_path, code: str, name: str = "badge"):
    return browser_factory(video_path=fakecam.write_y4m(tmp_path / f"{name}.y4m", fakecam.scene(code), frames=5))


def test_offline_scan_answers_from_the_copy_survives_a_reload_and_is_recorded_once(
        venue, browser_factory, page_factory, tmp_path):
    name, unit = "Nguyễn Thị Hương", "Đoàn Thanh niên Sở Tài chính"
    enrolment_id = venue.course.enrolments[0]
    page, device_id = open_phone(venue, badge_browser(browser_factory, tmp_path, venue.course.codes[0]), page_factory)

    page.context.set_offline(True)
    start_camera(page)
    expect_offline_answer(page, "ok", "Checked in", name)
    expect(page.locator("#result")).to_have_attribute("data-reason", "checked_in")
    expect(page.locator("#result-unit")).to_have_text(unit)
    expect(page.locator("#net")).to_have_attribute("data-net", "offline")
    expect_queue(page, 1)
    expect(page.locator("#net-queue")).to_have_text("1 scans waiting")
    assert venue.scans(device_id) == []  # nothing reached the server

    # A reload (or a closed tab, a restarted phone) with no network: the page comes from the service
    # worker, the door from the copy, and the queue is still there.
    page.reload()
    expect(page.locator("#door")).to_be_visible(timeout=10_000)
    expect(page.locator("#device-label")).to_have_text("Cổng A – Lan")
    expect_queue(page, 1)
    start_camera(page)
    # The copy remembers the offline admission: the same badge again is already in.
    expect_offline_answer(page, "warn", re.compile(r"^Already checked in at \d\d:\d\d$"), name)
    expect_queue(page, 2)
    assert venue.scans(device_id) == []

    page.context.set_offline(False)
    expect_queue(page, 0, timeout=20_000)
    expect(page.locator("#net")).to_have_attribute("data-net", "online")
    scans = venue.scans(device_id)
    assert [(s["method"], s["reason"], s["accepted"]) for s in scans] == [
        ("sync", "checked_in", 1), ("sync", "already_checked_in", 0)]
    assert len({s["nonce"] for s in scans}) == 2 and scans[1]["first_scan_id"] == scans[0]["id"]
    # Judged at the phone's scan time (the server's clock as the phone knew it), not at sync time.
    assert scans[0]["scanned_at"].startswith("2026-11-27T00:5")
    [row] = venue.attendance(enrolment_id)
    assert (row["status"], row["scan_id"]) == ("present", scans[0]["id"])
    # Nothing is sent twice afterwards.
    page.wait_for_timeout(4000)
    assert len(venue.scans(device_id)) == 2
    [state] = venue.query("SELECT * FROM device_sync_states WHERE device_id = ?", device_id)
    assert state["queued"] == 0 and state["last_sync_at"]
    no_page_errors(page_factory, page)


def test_slow_server_gets_an_offline_answer_and_the_late_answer_is_not_counted_twice(
        venue, browser_factory, page_factory, tmp_path):
    venue.clock.set(local(7, 55))
    name = "Trần Văn Nam"
    enrolment_id = venue.course.enrolments[1]
    page, device_id = open_phone(venue, badge_browser(browser_factory, tmp_path, venue.course.codes[1]), page_factory)
    delayed = []

    def slow_first_answer(route):
        if delayed:
            route.continue_()
            return
        response = route.fetch()  # the server records the scan...
        delayed.append(response.json())
        time.sleep(2.5)  # ...but its answer comes after the door's patience ran out
        try:
            route.fulfill(response=response)
        except Exception:  # the page gave up on the request already
            pass

    page.route("**/api/v1/scans", slow_first_answer)
    start_camera(page)
    # The page did not wait for the late answer: it answered from its offline copy (an offline answer, not the
    # server's), and the scan went into its queue.
    expect_offline_answer(page, "ok", "Checked in", name)
    expect_queue(page, 0, timeout=20_000)  # the queued copy goes through, with the same nonce

    scans = venue.scans(device_id)
    assert len(scans) == 1 and scans[0]["method"] == "camera" and scans[0]["id"] == delayed[0]["scan_id"]
    assert len(venue.attendance(enrolment_id)) == 1
    no_page_errors(page_factory, page)


def test_two_doors_offline_admit_one_badge_attendance_counts_once_and_both_are_shown(
        venue, browser_factory, page_factory, tmp_path):
    venue.clock.set(local(7, 56))
    name = "Lê Minh Đức"
    enrolment_id = venue.course.enrolments[2]
    browser = badge_browser(browser_factory, tmp_path, venue.course.codes[2])
    door_a, device_a = open_phone(venue, browser, page_factory, "Cổng A")
    # The test server's clock stands still; a phone keeps the server's time as it last saw it and lets it
    # run. Door B opens a minute later, so its scan is surely the later one.
    venue.clock.set(local(7, 57))
    door_b, device_b = open_phone(venue, browser, page_factory, "Cổng B")
    for page in (door_a, door_b):
        page.context.set_offline(True)
        start_camera(page)
        expect_offline_answer(page, "ok", "Checked in", name)
        expect_queue(page, 1)

    door_a.context.set_offline(False)
    expect_queue(door_a, 0, timeout=20_000)
    door_b.context.set_offline(False)
    expect_queue(door_b, 0, timeout=20_000)

    # Door B hears that the server changed its mind: door A had admitted the badge first.
    change = door_b.locator("#sync-changes li").first
    expect(change).to_contain_text(name)
    expect(change).to_have_attribute("data-reason", "already_checked_in")
    expect(change).to_have_attribute("data-offline-reason", "checked_in")
    expect(change).to_contain_text("server “Already checked in at 07:56”")
    [first] = venue.scans(device_a)
    [second] = venue.scans(device_b)
    assert (first["reason"], second["reason"], second["first_scan_id"]) == ("checked_in", "already_checked_in", first["id"])
    assert len(venue.attendance(enrolment_id)) == 1

    conn = open_sync(venue.settings.db_path)
    try:
        # The phone reports the overruled admission with its next status (within a tick or two).
        for _ in range(50):
            doubles = offline_store.list_double_admissions(conn, venue.course.id)
            if doubles:
                break
            time.sleep(0.2)
    finally:
        conn.close()
    [double] = doubles
    assert (double.full_name, double.first_by, double.second_by) == (name, "Cổng A", "Cổng B")
    for page in (door_a, door_b):
        no_page_errors(page_factory, page)


def test_revoked_phone_sends_its_queue_as_refused_and_forgets_the_course(
        venue, browser_factory, page_factory, tmp_path):
    venue.clock.set(local(7, 57))
    enrolment_id = venue.course.enrolments[3]
    page, device_id = open_phone(venue, badge_browser(browser_factory, tmp_path, venue.course.codes[3]), page_factory)
    page.context.set_offline(True)
    start_camera(page)
    expect_offline_answer(page, "ok", "Checked in", "Phạm Thu Trang")
    expect_queue(page, 1)

    venue.revoke(device_id)
    page.context.set_offline(False)
    expect(page.locator("#pair-needed")).to_be_visible(timeout=20_000)
    expect(page.locator("#pair-needed-text")).to_have_text(
        "This phone was unpaired by an organiser. Ask an organiser to pair it again.")

    assert [(s["reason"], s["accepted"], s["method"]) for s in venue.scans(device_id)] == [("device_revoked", 0, "sync")]
    assert venue.attendance(enrolment_id) == []
    stored = count_stored(page)
    assert stored == {"badges": 0, "people": 0, "queue": 0, "meta": 0}
    assert page.evaluate("localStorage.getItem('checkin.deviceToken')") is None
    no_page_errors(page_factory, page)


def test_reopened_page_fetches_the_delta_and_knows_another_door_s_check_in_offline(
        venue, browser_factory, page_factory, tmp_path):
    venue.clock.set(local(7, 58))
    name = "Nguyễn Thị Hương"
    page, device_id = open_phone(venue, badge_browser(browser_factory, tmp_path, venue.course.codes[0]), page_factory)
    cursor = page.locator("#scanner").get_attribute("data-copy-cursor")
    assert cursor and cursor.endswith(".e0")  # no check-in yet when the copy was made
    other_door, _ = venue.new_device("Cổng B")
    conn = open_sync(venue.settings.db_path)
    try:
        with transaction(conn):
            record_scan_tx(conn, ScanInput(course_id=venue.course.id, method="camera", code=venue.course.codes[0],
                                           device_id=other_door), venue.clock())
    finally:
        conn.close()

    page.reload()
    # The reopened page asks for what changed since its copy: the other door's check-in is in the delta.
    expect(page.locator("#scanner")).to_have_attribute("data-copy-cursor", re.compile(r"^d\d+\.r\d+\.e[1-9]"), timeout=10_000)
    page.context.set_offline(True)
    start_camera(page)
    expect_offline_answer(page, "warn", "Already checked in at 07:58", name)

    page.context.set_offline(False)
    expect_queue(page, 0, timeout=20_000)
    assert [s["reason"] for s in venue.scans(device_id)] == ["already_checked_in"]
    assert len(venue.attendance(venue.course.enrolments[0])) == 1
    no_page_errors(page_factory, page)


def test_phone_forgets_the_course_at_its_own_expiry_but_sends_the_scans_it_made_in_time(
        venue, browser_factory, page_factory, tmp_path):
    venue.clock.set(local(7, 59))
    expires = venue.clock() + timedelta(seconds=8)  # the server's clock stands still in tests: the phone's runs
    enrolment_id = venue.course.enrolments[1]
    page, device_id = open_phone(venue, badge_browser(browser_factory, tmp_path, venue.course.codes[1]), page_factory,
                                 expires_at=expires)
    page.context.set_offline(True)
    start_camera(page)
    expect_offline_answer(page, "ok", "Checked in", "Trần Văn Nam")
    expect_queue(page, 1)

    # Its own expiry, with no server to ask: the copy goes at once; the scan made in time waits.
    expect(page.locator("#pair-needed-text")).to_have_text(
        "This phone's pairing has expired. Ask an organiser for a new pairing.", timeout=20_000)
    expect(page.locator("#scanner")).to_have_attribute("data-expired-queue", "1")
    expect(page.locator("#expired-queue")).to_contain_text("if they reach the server within 15 minutes of its end")
    assert count_stored(page) == {"badges": 0, "people": 0, "queue": 1, "meta": 0}
    assert venue.scans(device_id) == []

    page.context.set_offline(False)
    for _ in range(100):  # (wait_for_function would evaluate a string: the page's CSP forbids that)
        if page.evaluate("() => localStorage.getItem('checkin.deviceToken')") is None:
            break
        time.sleep(0.2)
    assert page.evaluate("() => localStorage.getItem('checkin.deviceToken')") is None
    assert count_stored(page) == {"badges": 0, "people": 0, "queue": 0, "meta": 0}
    [scan] = venue.scans(device_id)
    assert (scan["method"], scan["reason"]) == ("sync", "checked_in")  # judged at its own time: before expiry
    assert len(venue.attendance(enrolment_id)) == 1
    no_page_errors(page_factory, page)


def expect_counters(page, this_phone: int, session_total: int) -> None:
    expect(page.locator("#count-device")).to_have_text(str(this_phone), timeout=10_000)
    expect(page.locator("#count-session")).to_have_text(str(session_total), timeout=10_000)


def scanner_gun(page, code: str) -> None:
    page.locator("#wedge").focus()
    page.keyboard.type(code)
    page.keyboard.press("Enter")


def test_counters_keep_what_the_phone_admitted_offline_across_a_reload_and_follow_the_server_once_back(
        venue, browser_factory, page_factory, tmp_path):
    venue.clock.set(local(7, 55))
    other_door, _ = venue.new_device("Cổng B")
    conn = open_sync(venue.settings.db_path)
    try:
        with transaction(conn):
            other = record_scan_tx(conn, ScanInput(course_id=venue.course.id, method="camera",
                                                   code=venue.course.codes[3], device_id=other_door), venue.clock())
    finally:
        conn.close()
    page, device_id = open_phone(venue, badge_browser(browser_factory, tmp_path, venue.course.codes[1]), page_factory)
    expect_counters(page, 0, 1)
    scanner_gun(page, venue.course.codes[0])  # online: the server counts
    expect(page.locator("#result")).to_have_attribute("data-source", "server")
    expect(page.locator("#result-name")).to_have_text("Nguyễn Thị Hương")
    expect_counters(page, 1, 2)

    page.context.set_offline(True)
    start_camera(page)  # the camera admits Nam offline...
    expect_offline_answer(page, "ok", "Checked in", "Trần Văn Nam")
    expect_counters(page, 2, 3)
    scanner_gun(page, venue.course.codes[2])  # ...and the scanner gun Đức
    expect_offline_answer(page, "ok", "Checked in", "Lê Minh Đức")
    expect_counters(page, 3, 4)

    # A reload without network: the last count the server gave, plus the two admitted offline since.
    page.reload()
    expect(page.locator("#door")).to_be_visible(timeout=10_000)
    expect_counters(page, 3, 4)

    # Meanwhile an organiser undid the other door's check-in: once back online, the server's figures win.
    conn = open_sync(venue.settings.db_path)
    try:
        with transaction(conn):
            scanning.undo_scan_tx(conn, venue.course.id, other.scan_id, venue.clock(), organiser_id=1, reason="mistake")
    finally:
        conn.close()
    page.context.set_offline(False)
    expect_queue(page, 0, timeout=20_000)
    expect_counters(page, 3, 3)
    assert [(s["method"], s["reason"]) for s in venue.scans(device_id)][:3] == [
        ("camera", "checked_in"), ("sync", "checked_in"), ("sync", "checked_in")]
    no_page_errors(page_factory, page)


def count_stored(page) -> dict:
    return page.evaluate("""() => new Promise((resolve, reject) => {
      const open = indexedDB.open("checkin-offline");
      open.onsuccess = () => {
        const tx = open.result.transaction(["badges", "people", "queue", "meta"]);
        const counts = {};
        for (const name of ["badges", "people", "queue", "meta"]) {
          const r = tx.objectStore(name).count();
          r.onsuccess = () => { counts[name] = r.result; };
        }
        tx.oncomplete = () => resolve(counts);
        tx.onerror = () => reject(tx.error);
      };
      open.onerror = () => reject(open.error);
    })""")


def test_name_search_without_network_finds_the_cadre_in_the_copy_and_queues_the_check_in(
        venue, browser_factory, page_factory):
    venue.clock.set(local(7, 58))
    enrolment_id = venue.course.enrolments[3]
    page, device_id = open_phone(venue, browser_factory(), page_factory)
    page.context.set_offline(True)

    page.locator("#search").fill("pham thu")  # no diacritics needed, offline as online
    results = page.locator("#search-results button.person")
    expect(results).to_have_count(1)
    expect(page.locator("#search-results")).to_have_attribute("data-source", "offline")
    expect(results.first).to_contain_text("Phạm Thu Trang")
    results.first.click()
    expect_offline_answer(page, "ok", "Checked in", "Phạm Thu Trang")
    expect_queue(page, 1)

    page.context.set_offline(False)
    expect_queue(page, 0, timeout=20_000)
    [scan] = venue.scans(device_id)
    assert (scan["method"], scan["enrolment_id"], scan["reason"]) == ("sync", enrolment_id, "checked_in")
    assert len(venue.attendance(enrolment_id)) == 1
    no_page_errors(page_factory, page)


def _decide_cases():
    from checkin.models import BadgeHolder, Checkin, CourseSession

    session = CourseSession(id=7, course_id=1, position=1, title="Khai mạc", starts_at=local(8, 0),
                            ends_at=local(8, 30), open_before_min=30, late_after_min=10)
    badge = BadgeHolder(code="x", revoked=False, enrolment_id=3, course_id=1, course_title="", participant_id=3,
                        full_name="", unit="", position="")
    revoked = BadgeHolder(**{**{f: getattr(badge, f) for f in badge.__slots__}, "revoked": True})
    cases = [
        ("no badge", None, session, None, local(8, 0), "refuse"),
        ("revoked", revoked, session, None, local(8, 0), "refuse"),
        ("no session", badge, None, None, local(8, 0), "refuse"),
        ("already", badge, session, local(7, 50), local(8, 0), "refuse"),
        ("earlier made after", badge, session, local(8, 5), local(8, 0), "refuse"),
        ("not open", badge, session, None, local(7, 29), "refuse"),
        ("window opens", badge, session, None, local(7, 30), "refuse"),
        ("on time", badge, session, None, local(8, 10), "refuse"),
        ("late", badge, session, None, local(8, 11), "refuse"),
        ("over, refused", badge, session, None, local(8, 30), "refuse"),
        ("over, late", badge, session, None, local(8, 45), "late"),
    ]
    return [
        (name, b, s, Checkin(1, earlier) if earlier else None, at, after_end)
        for name, b, s, earlier, at, after_end in cases
    ]


def test_offline_rule_copy_answers_as_the_server_rule(venue, browser_factory, page_factory):
    """The phone's offline answer is a copy of checkin.door.rules.decide_scan (the server decides again at sync);
    this table keeps the two from drifting apart."""
    from checkin.door import rules

    page = page_factory(browser_factory())
    page.goto(f"{venue.url}/usher")
    for name, badge, session, earlier, at, after_end in _decide_cases():
        expected = rules.decide_scan(badge=badge, course_id=1, session=session, earlier=earlier, at=at,
                                     after_end=after_end, stated_time=True).reason  # offline: the phone's time
        got = page.evaluate("""async ([badge, session, earlierAt, at, afterEnd]) => {
          const copy = await import("/static/js/offline-copy.js");
          return copy.decideOffline({ badge, session, earlierAt, at, afterEnd });
        }""", [
            None if badge is None else {"enrolmentId": badge.enrolment_id, "revoked": badge.revoked},
            None if session is None else {
                "id": session.id, "opens_at": session.opens_at.isoformat(), "ends_at": session.ends_at.isoformat(),
                "late_from": session.late_from.isoformat(), "starts_at": session.starts_at.isoformat()},
            None if earlier is None else earlier.at.timestamp() * 1000, at.timestamp() * 1000, after_end,
        ])
        assert got == str(expected), name
