"""The participant's badge page in a real browser: it loads, keeps working offline from the service
worker, and switches language."""

from __future__ import annotations

import io

import pytest
import zxingcpp
from PIL import Image
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import expect

from checkin.app import create_app


@pytest.fixture
def site(world, live_server):
    return live_server(create_app(world.settings, clock=world.clock))


def test_badge_page_loads_then_reloads_offline_from_the_service_worker(site, world, page_factory):
    page = page_factory(locale="vi-VN", extra_http_headers={"Accept-Language": "vi"},
                        viewport={"width": 390, "height": 844})
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
    # What the usher's camera would see: the QR as painted on the offline page decodes to the code.
    shot = Image.open(io.BytesIO(qr.screenshot()))
    assert [b.text for b in zxingcpp.read_barcodes(shot)] == [world.course.codes[0]]
    assert min(shot.size) >= 300  # large on a phone-sized page
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


def test_organiser_previews_a_layout_and_downloads_the_pdf_made_as_a_job(site, world, page_factory, tmp_path):
    page = page_factory(locale="en-GB", extra_http_headers={"Accept-Language": "en"})
    page.goto(f"{site}/login?next=/courses/{world.course.id}/badges")
    page.get_by_label("User name").fill("lan")
    page.get_by_label("Password").fill("correct horse battery")
    page.get_by_role("button", name="Sign in").click()
    preview = page.get_by_role("img", name="Preview of one badge")
    expect(preview).to_have_js_property("complete", True)
    page.get_by_label("cr80").check()
    expect(preview).to_have_attribute("src", f"/courses/{world.course.id}/badges/preview.png?layout=cr80")
    page.wait_for_function("() => document.getElementById('badge-preview').naturalWidth > document.getElementById('badge-preview').naturalHeight")
    with page.expect_download() as download:
        page.get_by_role("button", name="Download the PDF").click()
    path = tmp_path / "badges.pdf"
    download.value.save_as(path)
    assert download.value.suggested_filename == f"badges-course-{world.course.id}-cr80.pdf"
    assert path.read_bytes().startswith(b"%PDF")
    expect(page.get_by_role("status")).to_have_text("The PDF is ready; the download starts now.")
    expect(page.locator("progress")).to_have_attribute("value", "4")


def test_revoked_badge_is_forgotten_by_the_service_worker(site, world, page_factory):
    from checkin.store import people
    from checkin.store.db import transaction

    page = page_factory(locale="vi-VN", extra_http_headers={"Accept-Language": "vi"})
    page.goto(f"{site}/b/{world.course.codes[2]}")
    expect(page.locator("html[data-offline-ready=true]")).to_have_count(1, timeout=10_000)
    expect(page.get_by_role("button", name="In")).to_be_visible()
    conn = world.conn()
    with transaction(conn):
        people.revoke_badge(conn, world.course.enrolments[2], world.clock())
    conn.close()
    page.reload()
    expect(page.get_by_role("heading", name="Đường dẫn thẻ này không dùng được")).to_be_visible()
    page.context.set_offline(True)
    page_factory.log(page).allow_errors = True  # the worker has no copy left: the offline reload fails
    with pytest.raises(PlaywrightError, match="net::ERR_FAILED"):
        page.reload()
    expect(page.get_by_text("Lê Minh Đức")).to_have_count(0)


def test_organiser_finds_one_person_without_diacritics_and_prints_only_their_badge(site, world, page_factory, tmp_path):
    import pypdfium2 as pdfium

    page = page_factory(locale="en-GB", extra_http_headers={"Accept-Language": "en"})
    page.goto(f"{site}/login?next=/courses/{world.course.id}/badges")
    page.get_by_label("User name").fill("lan")
    page.get_by_label("Password").fill("correct horse battery")
    page.get_by_role("button", name="Sign in").click()
    page.get_by_text("Choose people").click()
    page.get_by_placeholder("Find by name or unit").fill("tran van")
    expect(page.locator(".people-picker li:not([hidden])")).to_have_count(1)
    page.get_by_label("Trần Văn Nam").check()
    expect(page.get_by_label("The people ticked below")).to_be_checked()
    with page.expect_download() as download:
        page.get_by_role("button", name="Download the PDF").click()
    path = tmp_path / "one.pdf"
    download.value.save_as(path)
    [pdf_page] = pdfium.PdfDocument(path.read_bytes())
    found = zxingcpp.read_barcodes(pdf_page.render(scale=150 / 72, grayscale=True).to_pil())
    assert [b.text for b in found] == [world.course.codes[1]]
