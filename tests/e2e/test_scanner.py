"""The usher's scanner in a real Chromium: fake camera playing a real badge QR -> page -> API -> database.

One server and one database for the module (the clock is set by each test); one browser per video,
since the fake camera's file is a launch argument. Each test uses its own participants and its own
device, so the order of the tests does not matter.
"""

from __future__ import annotations

import io
import re
import socket
import threading
import uuid
from dataclasses import dataclass
from datetime import timedelta
import pytest
from PIL import Image
from playwright.sync_api import expect

import fakecam
from checkin.documents import badges
from checkin.app import create_app
from checkin.settings import Settings
from checkin.store import devices, organisers, people
from checkin.store.db import open_sync, transaction
from checkin.store.people import PersonDetails
from tests.conftest import FakeClock, local, seed_course

EXTRA = [
    ("Hoàng Thị Lan", "Đoàn Thanh niên Sở Giáo dục và Đào tạo", "Bí thư"),
    ("Vũ Đức Anh", "Đoàn Thanh niên Sở Xây dựng", "Phó Bí thư"),
    ("Đặng Thu Hà", "Đoàn Thanh niên Sở Tư pháp", "Bí thư"),
    ("Bùi Quang Huy", "Đoàn Thanh niên Sở Nội vụ", "Phó Bí thư"),
    ("Đỗ Minh Châu", "Đoàn Thanh niên Sở Công Thương", "Bí thư"),
    ("Ngô Thanh Tùng", "Đoàn Thanh niên Sở Văn hóa", "Phó Bí thư"),
    ("Dương Mỹ Linh", "Đoàn Thanh niên Sở Giao thông", "Bí thư"),
    ("Lý Văn Phúc", "Đoàn Thanh niên Sở Khoa học", "Phó Bí thư"),
    ("Mai Anh Thư", "Đoàn Thanh niên Sở Ngoại vụ", "Bí thư"),
    ("Trịnh Gia Bảo", "Đoàn Thanh niên Sở Du lịch", "Phó Bí thư"),
    ("Hồ Ngọc Quỳnh", "Đoàn Thanh niên Sở Lao động", "Bí thư"),
    ("Tạ Minh Khoa", "Đoàn Thanh niên Sở Tài nguyên", "Phó Bí thư"),
]


@dataclass
class Person:
    name: str
    unit: str
    position: str
    enrolment_id: int
    code: str


@dataclass
class Door:
    url: str
    clock: FakeClock
    settings: Settings
    course_id: int
    sessions: list[int]
    people: dict[str, Person]  # by name
    other_code: str  # a badge of another course
    other_title: str

    def conn(self):
        return open_sync(self.settings.db_path)

    def new_device(self, label: str = "Cổng A – Lan") -> tuple[int, str]:
        conn = self.conn()
        try:
            with transaction(conn):
                return devices.insert_device(conn, self.course_id, label, local(23, 59), self.clock())
        finally:
            conn.close()

    def scans(self, **where) -> list[dict]:
        conn = self.conn()
        try:
            clauses = " AND ".join(f"s.{k} = ?" for k in where) or "1"
            rows = conn.execute(
                "SELECT s.*, u.undone_at FROM scans s LEFT JOIN scan_undos u ON u.scan_id = s.id"
                f" WHERE {clauses} ORDER BY s.id", tuple(where.values()),
            ).fetchall()
            return [dict(r) for r in rows]
        finally:
            conn.close()

    def attendance(self, enrolment_id: int) -> list[dict]:
        conn = self.conn()
        try:
            return [dict(r) for r in conn.execute("SELECT * FROM attendance WHERE enrolment_id = ?", (enrolment_id,))]
        finally:
            conn.close()


def _serve(app) -> tuple[str, callable]:
    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", ws="none", timeout_graceful_shutdown=2))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    for _ in range(200):
        if server.started:
            break
        thread.join(0.05)
    else:
        raise RuntimeError("scanner test server did not start")

    def stop():
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()

    return f"http://127.0.0.1:{sock.getsockname()[1]}", stop


@pytest.fixture(scope="module")
def door(tmp_path_factory) -> Door:
    folder = tmp_path_factory.mktemp("door")
    settings = Settings(data_dir=folder, secret_key="scanner-test-key", port=8000)
    clock = FakeClock(local(7, 50))
    conn = open_sync(settings.db_path)
    with transaction(conn):
        organiser_id = organisers.insert_organiser(conn, "lan", "Nguyễn Lan", "correct horse battery", clock())
        course = seed_course(conn, clock(), "Lớp bồi dưỡng cán bộ Đoàn chủ chốt", organiser_id)
        other = seed_course(conn, clock(), "Lớp tập huấn nghiệp vụ công tác Đội", None)
        for name, unit, position in EXTRA:
            pid = people.insert_participant(conn, PersonDetails(name, unit, position), clock())
            people.enrol(conn, course.id, pid, clock())
        found = {}
        for row in people.list_roster(conn, course.id):
            code = people.get_enrolment_badge_holder(conn, row.enrolment_id).code
            found[row.full_name] = Person(row.full_name, row.unit, row.position, row.enrolment_id, code)
    conn.close()
    url, stop = _serve(create_app(settings, clock=clock))
    yield Door(url, clock, settings, course.id, course.sessions, found, other.codes[0], "Lớp tập huấn nghiệp vụ công tác Đội")
    stop()


def badge_scene(code: str, variant: str = "normal") -> Image.Image:
    """The badge's QR exactly as the project prints it (badges.qr_png) held in front of the camera."""
    qr = Image.open(io.BytesIO(badges.qr_png(code, scale=10))).convert("L")
    box = 120 if variant == "small" else 300
    qr = qr.resize((box, box), Image.Resampling.NEAREST)
    if variant == "rotated":
        qr = qr.rotate(12, resample=Image.Resampling.BICUBIC, expand=True, fillcolor=fakecam.BACKGROUND)
    img = Image.new("L", fakecam.SIZE, fakecam.BACKGROUND)
    img.paste(qr, ((img.width - qr.width) // 2, (img.height - qr.height) // 2))
    if variant == "dim":
        img = fakecam._dim(img)
    return img.convert("RGB")


@pytest.fixture
def open_scanner(door, browser_factory, page_factory, tmp_path):
    """open_scanner(code=None, variant="normal", locale="en-GB", token=None) -> (page, device_id).

    Pairs a fresh device the way `checkin device add` prints it (/usher/pair#t=TOKEN), and with a
    code starts the camera, which shows that badge."""

    def open_(code: str | None = None, variant: str = "normal", locale: str = "en-GB", token: str | None = None,
              start: bool = True):
        device_id = None
        if token is None:
            device_id, token = door.new_device()
        video = None
        if code is not None:
            video = fakecam.write_y4m(tmp_path / f"{variant}.y4m", badge_scene(code, variant), frames=5)
        page = page_factory(browser_factory(video_path=video), locale=locale)
        page.goto(f"{door.url}/usher/pair#t={token}")
        page.wait_for_url(f"{door.url}/usher")
        assert "#t=" not in page.url
        if device_id is not None:
            expect(page.locator("#door")).to_be_visible()
            if code is not None and start:
                page.locator("#start").click()
                expect(page.locator("#scanner")).to_have_attribute("data-state", "scanning", timeout=10_000)
        return page, device_id

    return open_


def expect_answer(page, state: str, title, name: str | None = None, timeout: float = 10_000):
    result = page.locator("#result")
    expect(result).to_have_class(re.compile(rf"(^|\s)state-{state}(\s|$)"), timeout=timeout)
    expect(page.locator("#result-title")).to_have_text(title)
    if name is not None:
        expect(page.locator("#result-name")).to_have_text(name)


# --- each answer ---------------------------------------------------------------------------------------


def test_badge_on_time_is_checked_in_green_and_stored(door, open_scanner, page_factory):
    door.clock.set(local(7, 50))
    person = door.people["Nguyễn Thị Hương"]
    page, device_id = open_scanner(person.code)

    expect_answer(page, "ok", "Checked in", person.name)
    expect(page.locator("#result")).to_have_attribute("data-reason", "checked_in")
    expect(page.locator("#result-unit")).to_have_text(person.unit)
    expect(page.locator("#result-position")).to_have_text(person.position)
    expect(page.locator("#result-detail")).to_have_text("Session: Khai mạc")
    expect(page.locator("#count-device")).to_have_text("1")
    [scan] = door.scans(device_id=device_id)
    assert (scan["reason"], scan["method"], scan["accepted"], scan["enrolment_id"]) == (
        "checked_in", "camera", 1, person.enrolment_id)
    assert scan["session_id"] == door.sessions[0]
    # The nonce is a UUIDv7: unique, and in time order, so that a phone's nonces are appended to their index.
    assert uuid.UUID(scan["nonce"]).version == 7 and str(uuid.UUID(scan["nonce"])) == scan["nonce"]
    assert page.evaluate("window.checkinScanner.detector") == "wasm"
    assert page.evaluate("window.checkinScanner.worker") is True  # decoded off the main thread
    assert page_factory.log(page).external_requests == []


def test_badge_after_late_mark_is_amber_late(door, open_scanner):
    door.clock.set(local(8, 15))
    person = door.people["Trần Văn Nam"]
    page, device_id = open_scanner(person.code, locale="vi-VN")

    expect_answer(page, "warn", "Điểm danh muộn", person.name)
    [scan] = door.scans(device_id=device_id)
    assert scan["reason"] == "checked_in_late"
    assert door.attendance(person.enrolment_id)[0]["status"] == "late"


def test_second_scan_is_already_checked_in_with_the_first_time(door, open_scanner):
    person = door.people["Lê Minh Đức"]
    door.clock.set(local(7, 52))
    first_device, _ = door.new_device("Cổng B")
    conn = door.conn()
    try:
        from checkin.door.scanning import ScanInput, record_scan_tx

        with transaction(conn):
            record_scan_tx(conn, ScanInput(course_id=door.course_id, method="camera", code=person.code,
                                           device_id=first_device), door.clock())
    finally:
        conn.close()
    door.clock.set(local(8, 5))
    page, device_id = open_scanner(person.code, locale="vi-VN")

    expect_answer(page, "warn", "Đã điểm danh lúc 07:52", person.name)
    expect(page.locator("#undo")).to_be_hidden()
    [scan] = door.scans(device_id=device_id)
    assert (scan["reason"], scan["accepted"]) == ("already_checked_in", 0)


def test_unknown_code_is_red(door, open_scanner):
    door.clock.set(local(7, 55))
    page, device_id = open_scanner("NOT-A-BADGE-0000-1111")

    expect_answer(page, "bad", "Unknown code: not a badge of this course", "")
    [scan] = door.scans(device_id=device_id)
    assert scan["reason"] == "unknown_code" and scan["enrolment_id"] is None


def test_revoked_badge_is_red_with_the_name(door, open_scanner):
    door.clock.set(local(7, 55))
    person = door.people["Phạm Thu Trang"]
    conn = door.conn()
    try:
        with transaction(conn):
            people.issue_badge(conn, person.enrolment_id, door.clock())  # a new badge: the old code is revoked
    finally:
        conn.close()
    page, device_id = open_scanner(person.code)

    expect_answer(page, "bad", "This badge was cancelled or replaced", person.name)
    assert door.scans(device_id=device_id)[0]["reason"] == "badge_revoked"


def test_badge_of_another_course_names_that_course(door, open_scanner):
    door.clock.set(local(7, 55))
    page, device_id = open_scanner(door.other_code, locale="vi-VN")

    expect_answer(page, "bad", f"Đăng ký lớp khác: {door.other_title}")
    assert door.scans(device_id=device_id)[0]["reason"] == "other_course"


@pytest.mark.parametrize("chosen, at, reason, title, name", [
    (2, (7, 55), "session_not_open", "Check-in for this session is not open yet", "Hoàng Thị Lan"),
    (0, (8, 45), "session_closed", "This session is over", "Bùi Quang Huy"),
])
def test_usher_choosing_another_session_gets_its_answer(chosen, at, reason, title, name, door, open_scanner):
    door.clock.set(local(*at))
    person = door.people[name]
    page, device_id = open_scanner(person.code, start=False)

    page.locator("#session-select").select_option(str(door.sessions[chosen]))
    expect(page.locator("#session-now")).to_contain_text(["Khai mạc", "Chuyên đề 1", "Chuyên đề 2"][chosen])
    page.locator("#start").click()
    expect_answer(page, "bad", title, person.name)
    [scan] = door.scans(device_id=device_id)
    assert (scan["reason"], scan["session_id"]) == (reason, door.sessions[chosen])


def test_no_session_open_is_red(door, open_scanner):
    door.clock.set(local(6, 30))
    person = door.people["Vũ Đức Anh"]
    page, device_id = open_scanner(person.code)

    expect(page.locator("#session-now")).to_have_text("No session open now")
    expect_answer(page, "bad", "No session is open for check-in now", person.name)
    assert door.scans(device_id=device_id)[0]["reason"] == "no_session"


# --- behaviour at the door -----------------------------------------------------------------------------


def test_badge_held_up_for_seconds_is_one_scan(door, open_scanner):
    door.clock.set(local(7, 56))
    person = door.people["Đặng Thu Hà"]
    page, device_id = open_scanner(person.code)

    expect_answer(page, "ok", "Checked in", person.name)
    frames = len(page.evaluate("window.checkinScanner.frameMs"))
    page.wait_for_timeout(4_000)
    assert len(page.evaluate("window.checkinScanner.frameMs")) - frames >= 10  # still decoding it all along
    assert len(door.scans(device_id=device_id)) == 1
    assert "state-ok" in page.locator("#result").get_attribute("class").split()


def test_undo_removes_the_check_in_but_keeps_the_scan(door, open_scanner):
    door.clock.set(local(7, 57))
    person = door.people["Bùi Quang Huy"]
    page, device_id = open_scanner(person.code)

    expect_answer(page, "ok", "Checked in", person.name)
    expect(page.locator("#count-device")).to_have_text("1")
    page.locator("#undo").click()
    expect_answer(page, "undone", "Check-in undone", person.name)
    expect(page.locator("#count-device")).to_have_text("0")
    [scan] = door.scans(device_id=device_id)
    assert scan["accepted"] == 1 and scan["undone_at"] is not None
    assert door.attendance(person.enrolment_id) == []


def test_search_checks_in_a_cadre_without_a_badge(door, open_scanner):
    door.clock.set(local(7, 58))
    person = door.people["Đỗ Minh Châu"]
    page, device_id = open_scanner()

    page.locator("#search").fill("do minh")  # no diacritics needed
    results = page.locator("#search-results button.person")
    expect(results).to_have_count(1)
    expect(results.first).to_contain_text(person.name)
    results.first.click()
    expect_answer(page, "ok", "Checked in", person.name)
    expect(page.locator("#search-results li")).to_have_count(0)
    [scan] = door.scans(device_id=device_id)
    assert (scan["method"], scan["enrolment_id"], scan["reason"]) == ("search", person.enrolment_id, "checked_in")


def test_search_needs_three_letters(door, open_scanner):
    page, _ = open_scanner()
    page.locator("#search").fill("ng")
    expect(page.locator("#search-status")).to_have_text("Type at least 3 letters.")
    expect(page.locator("#search-results li")).to_have_count(0)


def test_keyboard_wedge_scan_without_stealing_the_search_box(door, open_scanner):
    door.clock.set(local(7, 59))
    person = door.people["Ngô Thanh Tùng"]
    page, device_id = open_scanner()

    expect(page.locator("#wedge")).to_be_focused()
    page.keyboard.type(person.code)
    page.keyboard.press("Enter")
    expect_answer(page, "ok", "Checked in", person.name)
    assert door.scans(device_id=device_id)[0]["code"] == person.code

    # Someone typing a name keeps the focus in the search box, even when an answer comes in.
    page.locator("#search").click()
    page.keyboard.type("dương")
    expect(page.locator("#search")).to_have_value("dương")
    expect(page.locator("#search")).to_be_focused()
    expect(page.locator("#wedge")).to_have_value("")

    # A gun typing while nothing is focused still lands in the wedge.
    page.locator("#search").fill("")
    page.evaluate("document.activeElement.blur()")
    page.keyboard.type("UNKNOWN-CODE-42")
    page.keyboard.press("Enter")
    expect_answer(page, "bad", "Unknown code: not a badge of this course")
    assert [s["code"] for s in door.scans(device_id=device_id)] == [person.code, "UNKNOWN-CODE-42"]


def test_answer_lost_on_the_network_is_retried_with_the_same_nonce_and_counted_once(door, open_scanner, page_factory):
    door.clock.set(local(8, 3))
    person = door.people["Tạ Minh Khoa"]
    lost = []

    def lose_first_answer(route):
        if not lost:
            lost.append(route.fetch().json())  # the server records the scan, the phone never hears back
            route.abort("connectionreset")
        else:
            route.continue_()

    page, device_id = open_scanner(person.code, start=False)
    page.route("**/api/v1/scans", lose_first_answer)
    page.locator("#start").click()

    expect_answer(page, "ok", "Checked in", person.name)
    [scan] = door.scans(device_id=device_id)
    assert lost[0]["scan_id"] == scan["id"] and lost[0]["reason"] == "checked_in"
    expect(page.locator("#count-device")).to_have_text("1")
    allow_only(page_factory, page, "net::ERR_CONNECTION_RESET")


@pytest.mark.parametrize("variant", ["small", "rotated", "dim"])
def test_badge_variants_are_read(variant, door, open_scanner):
    door.clock.set(local(7, 45))
    person = door.people[{"small": "Dương Mỹ Linh", "rotated": "Lý Văn Phúc", "dim": "Mai Anh Thư"}[variant]]
    page, device_id = open_scanner(person.code, variant)

    expect_answer(page, "ok", "Checked in", person.name)
    assert door.scans(device_id=device_id)[0]["reason"] == "checked_in"


# --- devices ---------------------------------------------------------------------------------------------


def allow_only(page_factory, page, expected: int | str) -> None:
    """The browser logs every refused or failed request; those with this status or error are expected."""
    log = page_factory.log(page)
    text = f"status of {expected}" if isinstance(expected, int) else expected
    assert log.errors and all(text in e for e in log.errors), log.errors
    log.allow_errors = True


def test_revoked_device_is_refused_and_asked_to_pair_again(door, open_scanner, page_factory):
    door.clock.set(local(8, 0))
    person = door.people["Trịnh Gia Bảo"]
    page, device_id = open_scanner(person.code, start=False)
    conn = door.conn()
    try:
        with transaction(conn):
            devices.revoke_device(conn, device_id, door.clock())
    finally:
        conn.close()
    # The page loaded before the revocation; its next scan is refused (the scan re-reads the device).
    page.locator("#start").click()

    expect(page.locator("#pair-needed")).to_be_visible(timeout=10_000)
    expect(page.locator("#pair-needed-text")).to_have_text(
        "This phone was unpaired by an organiser. Ask an organiser to pair it again.")
    expect(page.locator("#result")).to_be_hidden()
    assert page.evaluate("localStorage.getItem('checkin.deviceToken')") is None
    assert [s["reason"] for s in door.scans(device_id=device_id)] == ["device_revoked"]
    assert door.attendance(person.enrolment_id) == []
    allow_only(page_factory, page, 403)


def test_plain_http_on_the_lan_explains_that_the_camera_needs_https(door, open_scanner):
    page, _ = open_scanner(start=False)
    # What a phone gets on http://192.168.x.y: no navigator.mediaDevices at all.
    page.evaluate("Object.defineProperty(navigator, 'mediaDevices', { value: undefined })")
    page.locator("#start").click()
    expect(page.locator("#camera-status")).to_have_text(
        "The camera works only on a secure (https) page. Ask the organiser for the https address, "
        "or use the search and a scanner gun.")
    expect(page.locator("#search")).to_be_visible()


def test_invalid_token_in_link_asks_to_pair(door, open_scanner, page_factory):
    page, _ = open_scanner(token="not-a-real-token")
    expect(page.locator("#pair-needed")).to_be_visible()
    expect(page.locator("#pair-needed-text")).to_have_text(
        "This phone is no longer paired. Ask an organiser for a new pairing.")
    allow_only(page_factory, page, 401)


def test_organiser_pairs_a_phone_with_a_qr_and_the_phone_scans(door, browser_factory, page_factory, tmp_path):
    door.clock.set(local(8, 1))
    person = door.people["Hồ Ngọc Quỳnh"]
    video = fakecam.write_y4m(tmp_path / "pair.y4m", badge_scene(person.code), frames=5)
    browser = browser_factory(video_path=video)

    laptop = page_factory(browser, locale="en-GB")
    laptop.route("**/favicon.ico", lambda route: route.fulfill(status=204))  # the sign-in page names none
    laptop.goto(f"{door.url}/login?next=/courses/{door.course_id}/devices")
    laptop.locator("#username").fill("lan")
    laptop.locator("#password").fill("correct horse battery")
    laptop.locator("button[type=submit]").click()
    laptop.wait_for_url(f"{door.url}/courses/{door.course_id}/devices")
    laptop.locator("#make-pairing button[type=submit]").click()
    expect(laptop.locator("#pairing-qr")).to_be_visible()
    link = laptop.locator("#pairing-link").get_attribute("href")
    assert link.startswith(f"{door.url}/p/")
    code = laptop.locator("#pairing-code").inner_text()

    phone = page_factory(browser, locale="vi-VN")
    phone.goto(link)  # what the phone's camera app opens from the QR
    expect(phone.locator("#code")).to_have_value(code)
    phone.locator("#label").fill("Cổng C – Quỳnh")
    phone.locator("#pair-form button[type=submit]").click()
    phone.wait_for_url(f"{door.url}/usher")
    expect(phone.locator("#device-label")).to_have_text("Cổng C – Quỳnh")
    phone.locator("#start").click()
    expect_answer(phone, "ok", "Đã điểm danh", person.name)

    conn = door.conn()
    try:
        device = conn.execute("SELECT id, label, token_hash FROM devices WHERE label = ?", ("Cổng C – Quỳnh",)).fetchone()
        (pairing_hash,) = conn.execute("SELECT secret_hash FROM pairings ORDER BY id DESC LIMIT 1").fetchone()
    finally:
        conn.close()
    token = phone.evaluate("localStorage.getItem('checkin.deviceToken')")
    assert device and token and code.replace("-", "") not in (device["token_hash"], pairing_hash)
    assert door.scans(device_id=device["id"])[0]["reason"] == "checked_in"

    laptop.reload()
    row = laptop.locator(f"tr[data-device-id='{device['id']}']")
    expect(row).to_contain_text("Cổng C – Quỳnh")
    expect(row.locator("td").nth(2)).to_have_text("1")
    row.locator("button.danger").click()
    expect(laptop.locator(f"tr[data-device-id='{device['id']}']")).to_contain_text("unpaired")


def test_session_total_counts_every_device(door, open_scanner):
    door.clock.set(local(8, 2))
    page, _ = open_scanner()
    conn = door.conn()
    try:
        (total,) = conn.execute(
            "SELECT COUNT(*) FROM attendance WHERE session_id = ? AND status IN ('present', 'late')",
            (door.sessions[0],),
        ).fetchone()
    finally:
        conn.close()
    expect(page.locator("#count-session")).to_have_text(str(total))
    expect(page.locator("#count-device")).to_have_text("0")


def test_expired_device_is_asked_to_pair_again(door, open_scanner, page_factory):
    _, token = door.new_device()  # paired until 23:59
    door.clock.set(local(23, 59) + timedelta(minutes=1))
    try:
        page, _ = open_scanner(token=token)
        expect(page.locator("#pair-needed-text")).to_have_text(
            "This phone's pairing has expired. Ask an organiser for a new pairing.")
        expect(page.locator("#door")).to_be_hidden()
        allow_only(page_factory, page, 401)
    finally:
        door.clock.set(local(8, 0))


FAKE_NATIVE = """
window.BarcodeDetector = class BarcodeDetector {
  static async getSupportedFormats() { return ["qr_code"]; }
  async detect(source) { return [{ rawValue: %r, format: "qr_code", boundingBox: null, cornerPoints: [] }]; }
};
"""


def test_phone_with_a_native_barcode_detector_uses_it(door, open_scanner, browser_factory, page_factory):
    door.clock.set(local(7, 48))
    person = door.people["Nguyễn Thị Hương"]  # checked in by the first test, or now: either way a known badge
    device_id, token = door.new_device()
    page = page_factory(browser_factory(), locale="en-GB")
    page.add_init_script(FAKE_NATIVE % person.code)
    page.goto(f"{door.url}/usher/pair#t={token}")
    page.wait_for_url(f"{door.url}/usher")
    page.locator("#start").click()

    expect(page.locator("#result-name")).to_have_text(person.name, timeout=10_000)
    assert page.evaluate("window.checkinScanner.detector") == "native"
    assert page.evaluate("window.checkinScanner.worker") is False
    assert not [url for url in page_factory.log(page).requests if "/static/vendor/" in url]  # no wasm fetched
    assert door.scans(device_id=device_id)[0]["enrolment_id"] == person.enrolment_id
