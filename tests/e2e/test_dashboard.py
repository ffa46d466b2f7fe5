"""The big-screen dashboard in a real browser: it shows the snapshot, follows scans within a second, and
recovers by itself when its stream is dropped."""

from __future__ import annotations

import asyncio
import socket
import threading
import time

import httpx2 as httpx
import pytest
import uvicorn
from playwright.sync_api import expect

from checkin.store import scans
from checkin.store.db import transaction

from tests.conftest import bearer


@pytest.fixture
def server(app):
    """A uvicorn server in a thread whose event loop the test can reach (to publish a burst)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    uv = uvicorn.Server(uvicorn.Config(app, log_level="warning", ws="none", timeout_graceful_shutdown=1))
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=lambda: loop.run_until_complete(uv.serve(sockets=[sock])), daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not uv.started and time.monotonic() < deadline:
        time.sleep(0.02)
    yield f"http://127.0.0.1:{sock.getsockname()[1]}", loop, app.state.services.broadcaster
    uv.should_exit = True
    thread.join(10)
    loop.close()
    sock.close()


def sign_in(page, base_url: str) -> None:
    # The app has no favicon yet; Chromium's request for one would count as a console error.
    page.route("**/favicon.ico", lambda route: route.fulfill(status=204))
    page.goto(base_url + "/login")
    page.fill("input[name=username]", "lan")
    page.fill("input[name=password]", "correct horse battery")
    page.locator("form[action='/login'] button[type=submit]").click()
    page.wait_for_url("**/courses")


def scan(base_url: str, world, index: int) -> dict:
    answer = httpx.post(base_url + "/api/v1/scans", json={"code": world.course.codes[index], "method": "camera"},
                        headers=bearer(world.course.token), timeout=5)
    assert answer.status_code == 200 and answer.json()["accepted"], answer.text
    return answer.json()


def test_dashboard_shows_arrivals_as_they_are_scanned(server, world, page_factory):
    base_url, _loop, _broadcaster = server
    scan(base_url, world, 0)
    page = page_factory(locale="en-GB", extra_http_headers={"Accept-Language": "en"})
    sign_in(page, base_url)
    page.goto(f"{base_url}/courses/{world.course.id}/live")
    expect(page.locator("#dash-session")).to_have_text("Khai mạc")
    expect(page.locator("#count-arrived")).to_have_text("1")
    expect(page.locator("#count-enrolled")).to_have_text("4")
    expect(page.locator("#dash-status")).to_have_text("Live")
    expect(page.locator("#dash-units li")).to_have_count(3)

    scanned = scan(base_url, world, 1)
    expect(page.locator("#count-arrived")).to_have_text("2", timeout=1000)
    expect(page.locator("#count-missing")).to_have_text("2")
    expect(page.locator("#dash-recent li").first).to_contain_text("Trần Văn Nam")
    expect(page.locator("#dash-recent li").first).to_contain_text("Đoàn Thanh niên Sở Y tế")
    # Sở Y tế is complete now: it moves to the bottom; the units still missing people are on top.
    # The words every unit shares ("Đoàn Thanh niên") are left out of the bars; the full name is the title.
    expect(page.locator("#dash-units li").last.locator(".unit-name")).to_have_text("Sở Y tế")
    expect(page.locator("#dash-units li").last.locator(".unit-name")).to_have_attribute(
        "title", "Đoàn Thanh niên Sở Y tế")
    expect(page.locator("#dash-units li").first).to_contain_text("0/1")
    assert page.locator("#dash-chart rect").count() > 10
    assert page_factory.log(page).external_requests == []

    # An undo is not guessed by the page: it reloads the totals from the server.
    undo = httpx.post(f"{base_url}/api/v1/scans/{scanned['scan_id']}/undo", headers=bearer(world.course.token),
                      timeout=5)
    assert undo.status_code == 200
    expect(page.locator("#count-arrived")).to_have_text("1", timeout=2000)
    expect(page.locator("#dash-recent li").first).to_contain_text("Nguyễn Thị Hương")


def test_dashboard_in_vietnamese_recovers_after_its_stream_is_dropped(server, world, page_factory):
    base_url, loop, broadcaster = server
    page = page_factory(locale="vi-VN")
    sign_in(page, base_url)
    page.goto(f"{base_url}/courses/{world.course.id}/live")
    expect(page.locator("#dash-status")).to_have_text("Trực tiếp")
    expect(page.locator("#count-arrived")).to_have_text("0")
    expect(page.locator("#dash-recent li")).to_have_text("Chưa có ai điểm danh.")

    # Too many events in one go: the server drops the slow subscriber and ends its stream; the page
    # must reconnect by itself and catch up from the log, including a check-in made meanwhile.
    conn = world.conn()
    with transaction(conn):
        burst = [scans.insert_event(conn, world.course.id, "note", {"n": n}, world.clock()) for n in range(400)]
    conn.close()

    def publish_all():
        for event in burst:
            broadcaster.publish(event)

    loop.call_soon_threadsafe(publish_all)
    scan(base_url, world, 3)
    expect(page.locator("#count-arrived")).to_have_text("1", timeout=8000)
    expect(page.locator("#dash-recent li").first).to_contain_text("Phạm Thu Trang")
    expect(page.locator("#dash-status")).to_have_text("Trực tiếp")
    deadline = time.monotonic() + 5  # one live stream again (live once its catch-up read is done)
    while broadcaster.count(world.course.id) != 1 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert broadcaster.count(world.course.id) == 1


def test_full_screen_button_shows_only_the_dashboard(server, world, page_factory):
    base_url, _loop, _broadcaster = server
    page = page_factory(locale="en-GB", extra_http_headers={"Accept-Language": "en"})
    sign_in(page, base_url)
    page.goto(f"{base_url}/courses/{world.course.id}/live")
    expect(page.locator("#dash-status")).to_have_text("Live")
    page.click("#dash-fullscreen")
    page.wait_for_function("document.fullscreenElement && document.fullscreenElement.id === 'dashboard'")
    expect(page.locator("#dash-fullscreen")).to_have_text("Leave full screen")
    page.evaluate("document.exitFullscreen()")
    expect(page.locator("#dash-fullscreen")).to_have_text("Full screen")


class DeadableProxy:
    """A TCP relay in front of the server whose current connections can be made to go silent, as when
    venue Wi-Fi dies: nothing is closed, nothing arrives any more. New connections work again."""

    def __init__(self, port: int):
        self.target = port
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.port = self.listener.getsockname()[1]
        self.pairs: list[tuple[socket.socket, socket.socket, threading.Event]] = []
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.target))
            dead = threading.Event()
            with self.lock:
                self.pairs.append((client, upstream, dead))
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b, dead), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, target: socket.socket, dead: threading.Event) -> None:
        while True:
            try:
                data = source.recv(65536)
                if not data:
                    target.shutdown(socket.SHUT_WR)
                    return
                if not dead.is_set():
                    target.sendall(data)
            except OSError:
                return

    def kill_current(self) -> None:
        with self.lock:
            for _client, _upstream, dead in self.pairs:
                dead.set()

    def close(self) -> None:
        self.listener.close()
        with self.lock:
            for client, upstream, _dead in self.pairs:
                client.close()
                upstream.close()


def test_dashboard_notices_a_silent_network_and_catches_up(server, world, page_factory, monkeypatch):
    from checkin.routes import live

    monkeypatch.setattr(live, "HEARTBEAT_SECONDS", 0.4)  # the page waits 2.5 pings of silence
    base_url, _loop, broadcaster = server
    proxy = DeadableProxy(int(base_url.rsplit(":", 1)[1]))
    try:
        via = f"http://127.0.0.1:{proxy.port}"
        page = page_factory(locale="en-GB", extra_http_headers={"Accept-Language": "en"})
        sign_in(page, via)
        page.goto(f"{via}/courses/{world.course.id}/live")
        expect(page.locator("#dash-status")).to_have_text("Live")
        proxy.kill_current()  # the stream goes quiet: no error, no close
        scan(base_url, world, 2)  # a check-in the screen cannot hear about
        expect(page.locator("#count-arrived")).to_have_text("1", timeout=10000)
        expect(page.locator("#dash-recent li").first).to_contain_text("Lê Minh Đức")
        expect(page.locator("#dash-status")).to_have_text("Live")
    finally:
        proxy.close()
