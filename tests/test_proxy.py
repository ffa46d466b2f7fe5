"""Behind the documented proxy: uvicorn configured as `checkin serve` configures it takes the client's address and
scheme from a trusted proxy's X-Forwarded-For / X-Forwarded-Proto (CHECKIN_FORWARDED_ALLOW_IPS), so the sign-in
limits count each real client, and the session cookie is Secure when the browser used HTTPS."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from dataclasses import replace

import httpx2 as httpx
import pytest
import uvicorn

from checkin import sign_in as limits
from checkin.app import create_app
from checkin.cli.course_commands import server_options
from checkin.settings import Settings, SettingsError

from .conftest import rows


def serve(app, settings: Settings):
    """A server with `checkin serve`'s options, on a free port of 127.0.0.1 (where the proxy would be)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    options = {**server_options(settings), "log_level": "warning"}
    uv = uvicorn.Server(uvicorn.Config(app, ws="none", timeout_graceful_shutdown=1, **options))
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=lambda: loop.run_until_complete(uv.serve(sockets=[sock])), daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not uv.started and time.monotonic() < deadline:
        time.sleep(0.02)
    assert uv.started, "server did not start"
    return f"http://127.0.0.1:{sock.getsockname()[1]}", uv, thread, loop, sock


@pytest.fixture
def proxied(world):
    """proxied(**settings) -> base URL of a server with those settings, stopped at the end."""
    running = []

    def start(**changes) -> str:
        settings = replace(world.settings, **changes)
        found = serve(create_app(settings, clock=world.clock), settings)
        running.append(found)
        return found[0]

    yield start
    for _url, uv, thread, loop, sock in running:
        uv.should_exit = True
        thread.join(10)
        loop.close()
        sock.close()


def sign_in_via_proxy(url: str, client_address: str, password: str, proto: str = "http"):
    """What the proxy sends on for a browser at client_address: the same requests, with the forwarded headers.
    Returns the sign-in page's answer and the sign-in's. (The cookie goes back by hand: a Secure one would not,
    over this test's plain HTTP, but the browser behind the proxy is on HTTPS.)"""
    forwarded = {"X-Forwarded-For": client_address, "X-Forwarded-Proto": proto}
    with httpx.Client(base_url=url, headers=forwarded, timeout=10) as browser:
        page = browser.get("/login")
        csrf = page.text.split('name="csrf" value="', 1)[1].split('"', 1)[0]
        cookie = page.headers["set-cookie"].split(";", 1)[0]
        browser.cookies.clear()
        answer = browser.post("/login", data={"username": "lan", "password": password, "csrf": csrf},
                              headers={"Cookie": cookie})
        return page, answer


def secure(answer) -> bool:
    return "; secure" in answer.headers["set-cookie"].lower()


def test_behind_the_proxy_each_real_client_has_its_own_limit(proxied, world):
    url = proxied()
    for _ in range(limits.PASSWORD.pair_limit):
        assert sign_in_via_proxy(url, "203.0.113.5", "a wrong guess")[1].status_code == 400
    assert sign_in_via_proxy(url, "203.0.113.5", "correct horse battery")[1].status_code == 429
    # Everyone comes through the proxy's 127.0.0.1, yet the organiser elsewhere is not locked out.
    assert sign_in_via_proxy(url, "198.51.100.7", "correct horse battery")[1].status_code == 303
    assert rows(world, "SELECT DISTINCT address FROM sign_in_failures") == [("203.0.113.5",)]


def test_forwarded_headers_from_a_proxy_that_is_not_trusted_are_ignored(proxied, world):
    url = proxied(forwarded_allow_ips="192.0.2.10")
    page, answer = sign_in_via_proxy(url, "203.0.113.5", "a wrong guess", proto="https")
    assert answer.status_code == 400
    assert rows(world, "SELECT DISTINCT address FROM sign_in_failures") == [("127.0.0.1",)]
    assert not secure(page)


def test_the_session_cookie_is_secure_when_the_proxy_says_the_browser_used_https(proxied, world):
    url = proxied()
    page, answer = sign_in_via_proxy(url, "198.51.100.7", "correct horse battery", proto="https")
    assert secure(page) and answer.status_code == 303 and secure(answer)
    page, answer = sign_in_via_proxy(url, "198.51.100.8", "correct horse battery", proto="http")
    assert not secure(page) and answer.status_code == 303 and not secure(answer)


def test_the_trusted_proxies_setting_is_read_and_checked(tmp_path):
    assert Settings.from_environ({}).forwarded_allow_ips == "127.0.0.1"
    given = Settings.from_environ({"CHECKIN_FORWARDED_ALLOW_IPS": "10.0.0.2, 192.168.1.0/24"})
    assert given.forwarded_allow_ips == "10.0.0.2, 192.168.1.0/24"
    assert server_options(given)["forwarded_allow_ips"] == "10.0.0.2, 192.168.1.0/24"
    assert server_options(given)["proxy_headers"] is True
    with pytest.raises(SettingsError, match="CHECKIN_FORWARDED_ALLOW_IPS"):
        Settings.from_environ({"CHECKIN_FORWARDED_ALLOW_IPS": "127.0.0.l"})
