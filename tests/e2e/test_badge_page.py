"""The participant's badge page in a real browser: it loads, keeps working offline from the service
worker, and switches language."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from checkin.app import create_app


@pytest.fixture
def site(world, live_server):
    return live_server(create_app(world.settings, clock=world.clock))


def test_badge_page_loads_then_reloads_offline_from_the_service_worker(site, world, page_factory):
    page = page_factory(locale="vi-VN", extra_http_headers={"Accept-Language": "vi"})
    url = f"{site}/b/{world.course.codes[0]}"
    page.goto(url)
    expect(page.get_by_role("heading", name="Nguyễn Thị Hương")).to_be_visible()
    qr = page.get_by_role("img", name="Mã QR điểm danh của bạn. Đưa cho người đón tiếp ở cửa quét.")
    expect(qr).to_be_visible()
    assert qr.evaluate("img => img.naturalWidth") > 0
    expect(page.locator("html[data-offline-ready=true]")).to_have_count(1, timeout=10_000)
    page.wait_for_function("() => navigator.serviceWorker.controller !== null")  # clients.claim()

    page.context.set_offline(True)
    # Really offline: a request the worker does not handle fails (the failure it logs is expected).
    assert page.evaluate("() => fetch('/healthz').then(() => 'online', () => 'offline')") == "offline"
    log = page_factory.log(page)
    log.errors[:] = [e for e in log.errors if "/healthz" not in e]
    response = page.reload()
    assert response is not None and response.from_service_worker
    expect(page.get_by_role("heading", name="Nguyễn Thị Hương")).to_be_visible()
    expect(page.get_by_text("Chương trình trong ngày")).to_be_visible()
    assert qr.evaluate("img => img.complete && img.naturalWidth") > 0
    assert page.evaluate("() => getComputedStyle(document.querySelector('.badge-actions')).display") == "flex"
    assert page_factory.log(page).external_requests == []


def test_badge_page_switches_to_english_and_back(site, world, page_factory):
    page = page_factory(locale="vi-VN", extra_http_headers={"Accept-Language": "vi"})
    page.goto(f"{site}/b/{world.course.codes[1]}")
    expect(page.get_by_role("link", name="Lưu ảnh")).to_be_visible()
    page.get_by_role("link", name="English").click()
    expect(page.get_by_role("heading", name="Programme of the day")).to_be_visible()
    expect(page.get_by_role("link", name="Save image")).to_have_attribute("download", "checkin-badge.png")
    expect(page.get_by_role("heading", name="Trần Văn Nam")).to_be_visible()
    page.get_by_role("link", name="Tiếng Việt").click()
    expect(page.get_by_role("heading", name="Chương trình trong ngày")).to_be_visible()
