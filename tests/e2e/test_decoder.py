"""static/js/qr-decoder.js in a real Chromium: fake camera -> decoder -> page, under our CSP."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import expect
from starlette.applications import Starlette
from starlette.responses import FileResponse, HTMLResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

import fakecam

REPO = Path(__file__).resolve().parents[2]
PAGE_JS = Path(__file__).with_name("decoder_page.js")
CSP = (
    "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; connect-src 'self'; "
    "img-src 'self' data: blob:; worker-src 'self' blob:; media-src 'self' blob: mediastream:"
)
PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>decoder test</title><link rel="icon" href="data:,">
<script type="module" src="/e2e/decoder_page.js"></script></head>
<body><video id="camera" playsinline muted autoplay></video>
<p id="status">starting</p><p id="result"></p></body></html>
"""
SCANNING = re.compile(r"^scanning \((wasm|native)\)$")
BADGE = "CHK-7Q2M-9XK4"  # shaped like a badge token: no personal data in the code


def make_app() -> Starlette:
    async def page(request):
        return HTMLResponse(PAGE, headers={"Content-Security-Policy": CSP})

    async def page_js(request):
        return FileResponse(PAGE_JS, media_type="text/javascript")

    return Starlette(
        routes=[
            Route("/", page),
            Route("/e2e/decoder_page.js", page_js),
            Mount("/static", StaticFiles(directory=REPO / "static"), name="static"),
        ]
    )


@pytest.fixture
def open_scanner(live_server, browser_factory, page_factory, tmp_path):
    """open_scanner(video_path, query="", init_script=None) -> page scanning that camera."""
    base_url = live_server(make_app())

    def open_(video_path, query: str = "", init_script: str | None = None):
        page = page_factory(browser_factory(video_path=video_path))
        if init_script:
            page.add_init_script(init_script)
        page.goto(f"{base_url}/{query}")
        expect(page.locator("#status")).to_have_text(SCANNING, timeout=10_000)
        return page

    return open_


def scan_state(page) -> dict:
    return page.evaluate("() => JSON.parse(JSON.stringify(window.scan))")


@pytest.mark.parametrize("variant", fakecam.VARIANTS)
def test_badge_held_up_is_decoded_by_the_wasm_decoder(variant, open_scanner, page_factory, tmp_path):
    video = fakecam.write_y4m(tmp_path / f"{variant}.y4m", fakecam.scene(BADGE, variant))
    page = open_scanner(video)

    expect(page.locator("#result")).to_have_text(BADGE, timeout=10_000)
    state = scan_state(page)
    assert state["kind"] == "wasm"  # headless Linux Chromium has no native BarcodeDetector
    assert [c["text"] for c in state["codes"]] == [BADGE]
    assert state["frameMs"], "frames went through the decoder"  # (how fast: a figure for bench/, not a test)
    log = page_factory.log(page)
    assert log.external_requests == []
    assert any(url.endswith("/static/vendor/barcode-detector/zxing_reader.wasm") for url in log.requests)


def test_same_badge_held_for_three_seconds_is_one_scan(open_scanner, tmp_path):
    video = fakecam.write_y4m(tmp_path / "held.y4m", fakecam.scene(BADGE, "normal"))
    page = open_scanner(video)

    expect(page.locator("#result")).to_have_text(BADGE, timeout=10_000)
    frames_at_first_read = len(scan_state(page)["frameMs"])
    page.wait_for_timeout(3_000)
    state = scan_state(page)
    assert [c["text"] for c in state["codes"]] == [BADGE]
    # The badge was really decoded again and again meanwhile (not a stalled loop).
    assert len(state["frameMs"]) - frames_at_first_read >= 10


def test_next_badge_is_read_after_the_first(open_scanner, tmp_path):
    first, second = "CHK-AAAA-1111", "CHK-BBBB-2222"
    video = fakecam.write_y4m_sequence(
        tmp_path / "queue.y4m",
        [
            (fakecam.blank_scene(), 25),
            (fakecam.scene(first), 25),
            (fakecam.blank_scene(), 10),
            (fakecam.scene(second, "small"), 25),
        ],
    )
    page = open_scanner(video)

    expect(page.locator("#result")).to_have_text(second, timeout=10_000)
    texts = [c["text"] for c in scan_state(page)["codes"]]
    assert texts[-2:] == [first, second]


def test_badge_shown_again_after_quiet_period_is_read_again(open_scanner, tmp_path):
    # 1 s badge, 1 s nothing, looped by Chromium: with a 500 ms quiet period each showing counts.
    video = fakecam.write_y4m_sequence(
        tmp_path / "again.y4m", [(fakecam.scene(BADGE), 25), (fakecam.blank_scene(), 25)]
    )
    page = open_scanner(video, query="?quiet=500")

    page.wait_for_function("() => window.scan && window.scan.codes.length >= 2", timeout=10_000)
    codes = scan_state(page)["codes"]
    assert {c["text"] for c in codes} == {BADGE}
    assert codes[1]["at"] - codes[0]["at"] > 1_000


FAKE_NATIVE = """
window.nativeDetectCalls = 0;
window.BarcodeDetector = class BarcodeDetector {
  constructor(options) { this.formats = options.formats; }
  static async getSupportedFormats() { return %s; }
  async detect(source) {
    window.nativeDetectCalls += 1;
    return [{
      rawValue: "NATIVE-0001", format: "qr_code",
      boundingBox: new DOMRectReadOnly(10, 10, 100, 100),
      cornerPoints: [{x: 10, y: 10}, {x: 110, y: 10}, {x: 110, y: 110}, {x: 10, y: 110}],
    }];
  }
};
"""


def test_native_barcode_detector_is_used_when_it_reads_qr(open_scanner, page_factory, tmp_path):
    video = fakecam.write_y4m(tmp_path / "native.y4m", fakecam.blank_scene())
    page = open_scanner(video, init_script=FAKE_NATIVE % '["qr_code", "ean_13"]')

    expect(page.locator("#result")).to_have_text("NATIVE-0001", timeout=10_000)
    assert scan_state(page)["kind"] == "native"
    assert page.evaluate("window.nativeDetectCalls") >= 1
    requests = page_factory.log(page).requests
    assert not [url for url in requests if "/static/vendor/" in url]  # ponyfill never loaded


def test_native_barcode_detector_without_qr_falls_back_to_wasm(open_scanner, tmp_path):
    video = fakecam.write_y4m(tmp_path / "noqr.y4m", fakecam.scene(BADGE))
    page = open_scanner(video, init_script=FAKE_NATIVE % '["ean_13"]')

    expect(page.locator("#result")).to_have_text(BADGE, timeout=10_000)
    assert scan_state(page)["kind"] == "wasm"
    assert page.evaluate("window.nativeDetectCalls") == 0
