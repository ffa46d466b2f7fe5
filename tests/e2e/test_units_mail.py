"""In a real browser: the organiser e-mails the units their links from the nominations board, and the people their
badge links from the badge page; each sending runs as a job, its progress shows while a slow mail server takes
each message, and the page shows how it ended and each result, without the organiser reloading (one script,
static/js/mail-run.js, follows both)."""

from __future__ import annotations

from dataclasses import replace

import pytest
from playwright.sync_api import expect

from checkin.app import create_app
from checkin.store import bodies, unit_directory, units
from checkin.store.db import transaction
from checkin.store.unit_directory import MemberUnitDetails
from tests.test_mailing import inbox, with_emails  # noqa: F401 - the real SMTP server fixture

UNITS = [("Sở Y tế", "mai@syt.example.org"), ("Sở Tài chính", "hung@stc.example.org"), ("Cục Thuế thành phố", "")]


@pytest.fixture
def site(world, live_server, inbox):  # noqa: F811
    handler, port = inbox
    conn = world.conn()
    with transaction(conn):
        body = bodies.get_course_body(conn, world.course.id)
        for name, email in UNITS:
            entry = unit_directory.insert_member_unit(
                conn, body.id, MemberUnitDetails(name, "", "Cán bộ " + name, "0911222333", email), world.clock())
            units.summon_unit(conn, world.course.id, entry, 3, "", world.clock())
        units.upsert_summons(conn, world.course.id, None, False, world.clock())
    conn.close()
    settings = replace(world.settings, smtp_host="127.0.0.1", smtp_port=port, smtp_tls="none",
                       smtp_sender="Ban Tổ chức <bantochuc@example.org>", base_url="https://checkin.example.org")
    return live_server(create_app(settings, clock=world.clock)), handler


def sign_in(page, url) -> None:
    page.goto(url + "/login")
    page.get_by_label("User name").fill("lan")
    page.get_by_label("Password").fill("correct horse battery")
    page.get_by_role("button", name="Sign in").click()


def test_the_board_follows_the_units_e_mails_to_their_end(site, world, page_factory):
    url, handler = site
    handler.delay = 0.6  # each message takes a while: the run is seen going
    handler.refuse.add("hung@stc.example.org")
    page = page_factory()
    sign_in(page, url)
    page.goto(url + f"/courses/{world.course.id}/units")
    page.get_by_role("button", name="E-mail the links (units not sent yet)").click()
    message = page.locator("#send-message")
    expect(message).to_contain_text("Sending: ")
    expect(page.get_by_role("button", name="E-mail the links (units not sent yet)")).to_be_disabled()
    # The page follows the run and reloads itself at its end: the counts, and each unit's result in the table.
    expect(message).to_have_text("Finished: sent 1, failed 2.", timeout=15_000)
    board = page.locator("#board")
    expect(board.locator("tr", has_text="Sở Y tế")).to_contain_text("sent")
    expect(board.locator("tr", has_text="Sở Tài chính")).to_contain_text("failed")
    expect(page.get_by_role("button", name="E-mail the links (units not sent yet)")).to_be_enabled()
    assert len(handler.to("mai@syt.example.org")) == 1


def test_the_badge_page_follows_the_badge_links_to_their_end(site, world, page_factory):
    url, handler = site
    with_emails(world)  # three of the four people have an address
    handler.delay = 0.6
    handler.refuse.add("nam@example.org")
    page = page_factory()
    sign_in(page, url)
    page.goto(url + f"/courses/{world.course.id}/badges/send")
    page.get_by_role("button", name="Send").click()
    message = page.locator("#send-message")
    expect(message).to_contain_text("Sending: ")
    expect(page.get_by_role("button", name="Send")).to_be_disabled()
    expect(message).to_have_text("Finished: sent 2, failed 1.", timeout=15_000)
    counts = page.locator("#send-counts")
    expect(counts.locator('[data-count="sent"]')).to_have_text("2")
    expect(counts.locator('[data-count="failed"]')).to_have_text("1")
    expect(page.locator("tr", has_text="nam@example.org")).to_contain_text("failed")
    assert len(handler.to("huong@example.org")) == 1
