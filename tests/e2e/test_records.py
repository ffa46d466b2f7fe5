"""What an organiser sees of the records in a real browser: a person's record across three courses (and
confirming a proposal), the term report with its chart and the links behind its numbers; the participant's own
record from the badge page."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from checkin.app import create_app
from checkin.store.db import transaction

from tests.records_world import build, person_of


def sign_in(page, site, username="lan", password="correct horse battery"):
    page.goto(site + "/login")
    page.get_by_label("User name").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


@pytest.fixture
def scenario(world):
    conn = world.conn()
    organiser_id = conn.execute("SELECT id FROM organisers WHERE username = 'lan'").fetchone()[0]
    with transaction(conn):
        s = build(conn, organiser_id, world.clock())
    return conn, s


@pytest.fixture
def site(world, live_server, scenario):
    return live_server(create_app(world.settings, clock=world.clock))


@pytest.fixture
def page(page_factory):
    page = page_factory(locale="en-GB", extra_http_headers={"Accept-Language": "en"})
    yield page


def test_the_record_page_shows_the_courses_and_a_proposal_is_confirmed(page, site, scenario):
    conn, s = scenario
    sign_in(page, site)
    page.goto(f"{site}/courses/{s.course_ids['C']}/people/{s.enrolments['C'][0]}")
    page.locator("#training-record").click()
    expect(page.locator("#person-name")).to_have_text("Nguyễn Thị Hương")
    expect(page.locator(".record-course")).to_have_count(3)
    expect(page.locator("#roles li")).to_have_count(2)
    expect(page.locator("#roles li").first).to_contain_text("Phó Bí thư")
    expect(page.locator(".record-course .certificate")).to_have_text(["CERTA0", "CERTB0", "CERTC0"])
    # The proposals: Lê Minh Đức of course B is Lê Minh Đức of course A.
    page.get_by_role("link", name="To confirm").click()
    card = page.locator(".proposal", has_text="Lê Minh Đức")
    card.get_by_label("Reason").fill("same person, called the unit")
    card.get_by_role("button", name="Same person: merge").click()
    expect(page.locator(".message.ok")).to_contain_text("Merged")
    expect(page.locator(".proposal")).to_have_count(2)
    assert person_of(conn, s.enrolments["B"][2]) == person_of(conn, s.enrolments["A"][2])
    page.goto(f"{site}/bodies/{s.body_id}/people/{person_of(conn, s.enrolments['A'][2])}")
    expect(page.locator(".record-course")).to_have_count(2)
    expect(page.locator("#record-audit")).to_contain_text("person_merge")


def test_the_term_report_page_with_its_chart_and_the_people_behind_a_number(page, site, scenario):
    conn, s = scenario
    sign_in(page, site)
    page.goto(f"{site}/bodies/{s.body_id}/programmes")
    page.get_by_label("Title").fill("Nhiệm kỳ 2022–2027")
    for box in page.locator("#programme-form input[type=checkbox]").all():
        box.check()
    page.get_by_role("button", name="Create").click()
    page.locator("a.button", has_text="Term report").click()
    expect(page.locator("#report-title")).to_have_text("Nhiệm kỳ 2022–2027")
    expect(page.locator("#chart-units svg rect")).to_have_count(4)
    expect(page.locator("#units-courses tbody tr")).to_have_count(4)
    expect(page.locator("#report-totals")).to_contain_text("Nominated: 12")
    page.locator("#report-totals a").nth(2).click()  # certified
    expect(page.locator("#people-behind li")).to_have_count(9)
    page.get_by_role("link", name="Nguyễn Thị Hương").first.click()
    expect(page.locator("#person-name")).to_have_text("Nguyễn Thị Hương")


def test_the_participant_opens_their_own_record_from_the_badge(page, site, scenario):
    conn, s = scenario
    page.goto(f"{site}/b/{s.codes['B'][0]}")
    page.locator("#my-record").click()
    expect(page.locator("#person-name")).to_have_text("Nguyễn Thị Hương")
    expect(page.locator(".record-course")).to_have_count(3)
    text = page.locator("main").inner_text()
    assert not re.search("Trần Văn Nam|Lê Minh Đức|Phạm Thu Trang|0912", text)
