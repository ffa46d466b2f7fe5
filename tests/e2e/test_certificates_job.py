"""Certificates for a whole course in a real browser: the reports page shows the job's progress (issued, pages
drawn) and then downloads the PDF; with JavaScript off, the form opens the job's page, which follows it."""

from __future__ import annotations

import re

import pypdfium2 as pdfium
import pytest
from playwright.sync_api import expect

from checkin.app import create_app
from tests.conftest import local
from tests.test_certificates_job import enrol_attendees


@pytest.fixture
def site(world, live_server):
    world.clock.set(local(11, 0))  # every session is over
    return live_server(create_app(world.settings, clock=world.clock))


def sign_in(page, site):
    page.goto(site + "/login")
    page.get_by_label("User name").fill("lan")
    page.get_by_label("Password").fill("correct horse battery")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Courses")).to_be_visible()


def pages_of(path) -> int:
    doc = pdfium.PdfDocument(path)
    try:
        return len(doc)
    finally:
        doc.close()


def test_reports_page_shows_the_progress_then_downloads_the_certificates(page_factory, site, world, tmp_path):
    # Drawing 1,500 pages takes a few seconds (250 now take under a second): long enough to be seen.
    enrol_attendees(world, 1500)
    page = page_factory(locale="en-GB", extra_http_headers={"Accept-Language": "en"})
    sign_in(page, site)
    page.goto(f"{site}/courses/{world.course.id}/reports")
    certificates = page.get_by_role("region", name="Certificates of attendance")
    progress = certificates.locator("#certificates-progress")
    with page.expect_download(timeout=120_000) as download:
        certificates.get_by_role("button", name="Issue and download the certificates (PDF)").click()
        expect(progress.get_by_role("status")).to_have_text(re.compile(r"^Drawing the pages: \d+ of 1500…$"),
                                                            timeout=60_000)
    expect(progress.get_by_role("status")).to_have_text("The certificates are ready; the download starts now.")
    path = tmp_path / "certificates.pdf"
    download.value.save_as(path)
    assert pages_of(path) == 1500


def test_without_javascript_the_job_page_reloads_itself_until_the_download(page_factory, site, world, tmp_path):
    enrol_attendees(world, 20)
    page = page_factory(locale="en-GB", extra_http_headers={"Accept-Language": "en"}, java_script_enabled=False)
    sign_in(page, site)
    page.goto(f"{site}/courses/{world.course.id}/reports")
    page.get_by_role("button", name="Issue and download the certificates (PDF)").click()
    expect(page).to_have_url(re.compile(rf"/courses/{world.course.id}/certificates/jobs/[\w-]+$"))
    expect(page.locator("#certificates-job")).to_have_attribute("data-state", "done", timeout=60_000)
    expect(page.get_by_role("status")).to_have_text("The certificates are ready: 20 pages.")
    with page.expect_download() as download:
        page.get_by_role("link", name="Download the certificates (PDF)").click()
    path = tmp_path / "certificates.pdf"
    download.value.save_as(path)
    assert pages_of(path) == 20
