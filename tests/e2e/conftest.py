"""Fixtures for real-browser tests: a Chromium to drive, a live server on 127.0.0.1, pages that
fail the test on any page error. See the shared BROWSER-TESTS.md (beside this repository) for why the flags are what they are.

    def test_scanner_shows_name(live_server, browser_factory, page_factory, tmp_path):
        video = fakecam.write_y4m(tmp_path / "cam.y4m", fakecam.scene("CHK-1", "normal"))
        base_url = live_server(create_app(settings))
        page = page_factory(browser_factory(video_path=video))
        page.goto(base_url + "/usher/scanner")
        expect(page.locator("#result")).to_have_text("Ada Lovelace")
        assert page_factory.log(page).external_requests == []
"""

from __future__ import annotations

import os
import shutil
import socket
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest

E2E_DIR = Path(__file__).resolve().parent
# tests/ has no __init__.py, so put it on the path for the shared helpers (fakecam).
if str(E2E_DIR.parent) not in sys.path:
    sys.path.insert(0, str(E2E_DIR.parent))

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
]
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # This hook sees every collected item, not only ours: mark just the ones under tests/e2e.
    for item in items:
        if E2E_DIR in Path(str(item.path)).resolve().parents:
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def chromium_path() -> str:
    """Path of the Chromium to drive: $CHECKIN_CHROMIUM, else /usr/bin/chromium, else `chromium`
    on PATH.

    With none found the test is skipped, except in CI (env CI set) where it fails."""
    given = os.environ.get("CHECKIN_CHROMIUM")
    if given:
        # An explicit choice that is wrong is an error, not a reason to test another browser.
        if not (os.path.isfile(given) and os.access(given, os.X_OK)):
            pytest.fail(f"CHECKIN_CHROMIUM={given!r} is not an executable file")
        return given
    for candidate in ("/usr/bin/chromium", shutil.which("chromium")):
        if candidate and os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    message = (
        "no Chromium found: set CHECKIN_CHROMIUM, or `apt-get install -y chromium` "
        "(or `playwright install chromium` where downloads work)"
    )
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


# --- live server -----------------------------------------------------------------------------


@pytest.fixture
def live_server() -> Iterator[Callable[..., str]]:
    """live_server(asgi_app, **uvicorn_config) -> "http://127.0.0.1:PORT", stopped at teardown.

    Defaults: log_level="warning", ws="none" (pass ws="auto" for websockets), and
    timeout_graceful_shutdown=2 so an open event stream cannot hold up the teardown.

    uvicorn runs in its own thread with its own event loop, so the test thread stays free of a
    running loop (Playwright's sync API refuses to run inside one)."""
    import uvicorn

    running: list[tuple[uvicorn.Server, threading.Thread, socket.socket]] = []

    def start(app, **config_kwargs) -> str:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        options = {"log_level": "warning", "timeout_graceful_shutdown": 2, "ws": "none"}
        options.update(config_kwargs)
        server = uvicorn.Server(uvicorn.Config(app, **options))
        thread = threading.Thread(
            target=server.run, kwargs={"sockets": [sock]}, name=f"live-server-{port}", daemon=True
        )
        thread.start()
        running.append((server, thread, sock))
        for _ in range(200):  # up to 10 s
            if server.started:
                return f"http://127.0.0.1:{port}"
            if not thread.is_alive():
                break
            thread.join(0.05)
        raise RuntimeError(f"live server on port {port} did not start")

    yield start

    for server, thread, sock in reversed(running):
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
        if thread.is_alive():
            pytest.fail(f"live server thread {thread.name} did not stop")


# --- browsers and pages ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def playwright_driver(chromium_path: str):
    """The Playwright driver process, one per test module (not per session, so it is gone
    before any later asyncio-based test module runs)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as driver:
        yield driver


@pytest.fixture
def browser_factory(playwright_driver, chromium_path: str):
    """browser_factory(video_path=None, *, extra_args=()) -> playwright Browser (headless).

    The fake camera plays `video_path` (a .y4m, see fakecam.py) in a loop; without one it shows
    Chromium's built-in test pattern. Every browser is closed at teardown."""
    browsers = []

    def launch(video_path: str | os.PathLike | None = None, *, extra_args=()):
        args = list(CHROMIUM_ARGS)
        if video_path is not None:
            video = Path(video_path)
            if not video.is_file():
                # Chromium would only say "NotFoundError: Requested device not found".
                raise FileNotFoundError(video)
            args.append(f"--use-file-for-fake-video-capture={video}")
        args.extend(extra_args)
        browser = playwright_driver.chromium.launch(
            executable_path=chromium_path, headless=True, args=args
        )
        browsers.append(browser)
        return browser

    yield launch

    for browser in browsers:
        browser.close()


@dataclass
class PageLog:
    """What a page did: uncaught errors, console errors, and every request URL it made."""

    errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    allow_errors: bool = False

    @property
    def external_requests(self) -> list[str]:
        """Requests to anything but 127.0.0.1 / localhost (data: and blob: URLs are local)."""
        return [url for url in self.requests if not _is_local(url)]


def _is_local(url: str) -> bool:
    parts = urlsplit(url)
    if parts.scheme in {"data", "blob", "about"}:
        return True
    return parts.hostname in LOCAL_HOSTS


class PageFactory:
    """page_factory(browser=None, *, allow_errors=False, **context_kwargs) -> playwright Page.

    Each page gets its own context with camera permission. Uncaught page errors and
    console.error messages fail the test at teardown unless allow_errors=True (or
    page_factory.log(page).allow_errors = True). page_factory.log(page) gives the PageLog."""

    def __init__(self, browser_factory) -> None:
        self._browser_factory = browser_factory
        self._pages: list[tuple[object, PageLog]] = []

    def __call__(self, browser=None, *, allow_errors: bool = False, **context_kwargs):
        if browser is None:
            browser = self._browser_factory()
        context_kwargs.setdefault("permissions", ["camera"])
        context = browser.new_context(**context_kwargs)
        log = PageLog(allow_errors=allow_errors)
        # Context-level, so requests from workers and popups are recorded as well.
        context.on("request", lambda request: log.requests.append(request.url))
        page = context.new_page()
        page.on("pageerror", lambda error: log.errors.append(f"pageerror: {error}"))
        page.on(
            "console",
            lambda msg: log.errors.append(f"console.error: {msg.text} ({msg.location})")
            if msg.type == "error"
            else None,
        )
        self._pages.append((page, log))
        return page

    def log(self, page) -> PageLog:
        for known, log in self._pages:
            if known is page:
                return log
        raise KeyError("page was not made by page_factory")

    def finish(self) -> list[str]:
        problems = []
        for page, log in self._pages:
            if log.errors and not log.allow_errors:
                problems.append(f"{page.url}:\n  " + "\n  ".join(log.errors))
            page.context.close()
        return problems


@pytest.fixture
def page_factory(browser_factory) -> Iterator[PageFactory]:
    factory = PageFactory(browser_factory)
    yield factory
    problems = factory.finish()
    if problems:
        pytest.fail("errors in the browser:\n" + "\n".join(problems), pytrace=False)


@pytest.fixture
def store() -> str:
    """Browser tests run on the embedded store only (the HTTP suite covers both stores)."""
    return "sqlite"
