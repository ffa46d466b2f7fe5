"""In a real browser: an usher checks a unit in by its leader's badge (group check-in), ticking and unticking;
an organiser copies a unit's Zalo message, which is recorded as sent for Zalo."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from checkin.app import create_app
from checkin.store import bodies, unit_directory, units
from checkin.store.db import transaction
from checkin.store.people import PersonDetails
from checkin.store.unit_directory import MemberUnitDetails
from checkin.units import nominations
from tests.conftest import local

PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}


@pytest.fixture
def site(world, live_server):
    return live_server(create_app(world.settings, clock=world.clock))


def rows(world, sql, *args):
    conn = world.conn()
    try:
        return [tuple(r) for r in conn.execute(sql, args).fetchall()]
    finally:
        conn.close()


@pytest.fixture
def unit(world):
    """Sở Y tế confirmed Lê Thị Một (its leader), Ngô Văn Hai and Đỗ Thị Ba; group check-in is on; 8:05."""
    conn = world.conn()
    with transaction(conn):
        body = bodies.get_course_body(conn, world.course.id)
        entry = unit_directory.insert_member_unit(conn, body.id, MemberUnitDetails("Sở Y tế", "", "Trần Thị Mai", "0911222333"),
                                         world.clock())
        summoned = units.summon_unit(conn, world.course.id, entry, 3, "", world.clock())
        units.upsert_summons(conn, world.course.id, None, True, world.clock())
        people = [PersonDetails(n, "", "", p) for n, p in (("Lê Thị Một", "0911000001"), ("Ngô Văn Hai", "0911000002"),
                                                          ("Đỗ Thị Ba", "0911000003"))]
        actor = nominations.Actor(None, "Sở Y tế")
        nominations.add_nominees_tx(conn, world.course.id, summoned, people, actor, world.clock())
        nominations.confirm_tx(conn, world.course.id, summoned, actor, world.clock())
    conn.close()
    world.clock.set(local(8, 5))
    leader = rows(world, "SELECT b.code FROM badges b JOIN nominees n ON n.enrolment_id = b.enrolment_id"
                         " WHERE n.full_name = 'Lê Thị Một'")[0][0]
    return {"summoned": summoned, "leader": leader}


def test_an_usher_ticks_a_units_cadres_in_by_its_leaders_badge(site, world, unit, page_factory):
    phone = page_factory(locale="vi-VN", extra_http_headers={"Accept-Language": "vi"}, **PHONE)
    phone.add_init_script(f"localStorage.setItem('checkin.deviceToken', {world.course.token!r});")
    phone.goto(site + "/usher/group")
    phone.locator("#leader-code").fill(f"{site}/b/{unit['leader']}")
    phone.get_by_role("button", name="Xem đơn vị").click()
    expect(phone.locator("#group-title")).to_have_text("Sở Y tế · Lê Thị Một")
    expect(phone.locator("#group-session")).to_have_text("Khai mạc")
    boxes = phone.locator("#group-cadres input[type=checkbox]")
    expect(boxes).to_have_count(3)
    hai = phone.get_by_label("Ngô Văn Hai")
    hai.check()
    expect(phone.locator("#group-message")).to_have_text("Ngô Văn Hai: đã điểm danh")
    assert rows(world, "SELECT s.method, g.leader_enrolment_id IS NOT NULL FROM scans s"
                       " JOIN group_checkins g ON g.scan_id = s.id") == [("group", 1)]
    hai.uncheck()
    expect(phone.locator("#group-message")).to_have_text("Ngô Văn Hai: đã hủy điểm danh")
    assert rows(world, "SELECT COUNT(*) FROM scan_undos") == [(1,)]


def test_a_not_leaders_badge_says_so(site, world, unit, page_factory):
    phone = page_factory(locale="vi-VN", extra_http_headers={"Accept-Language": "vi"}, **PHONE)
    phone.add_init_script(f"localStorage.setItem('checkin.deviceToken', {world.course.token!r});")
    phone.goto(site + "/usher/group")
    phone.locator("#leader-code").fill(world.course.codes[0])
    phone.get_by_role("button", name="Xem đơn vị").click()
    expect(phone.locator("#group-message")).to_contain_text("không phải thẻ trưởng đoàn")
    page_factory.log(phone).errors.clear()  # the 404 answer is the server's, logged as a failed resource


def test_the_organiser_copies_the_zalo_message_and_it_is_recorded(site, world, unit, page_factory):
    desk = page_factory(locale="vi-VN", extra_http_headers={"Accept-Language": "vi"},
                        permissions=["clipboard-read", "clipboard-write"])
    desk.goto(site + "/login")
    desk.locator("#username").fill("lan")
    desk.locator("#password").fill(world.organiser_password)
    desk.locator("form[action='/login'] button[type=submit]").click()
    desk.goto(site + f"/courses/{world.course.id}/units/{unit['summoned']}")
    expect(desk.locator("#zalo-text")).to_contain_text("Kính gửi Sở Y tế")
    desk.get_by_role("button", name="Sao chép").click()
    expect(desk.locator("#share-status")).to_contain_text("Đã sao chép")
    copied = desk.evaluate("navigator.clipboard.readText()")
    assert "Kính gửi Sở Y tế" in copied and "/u/" in copied
    for _ in range(50):
        if rows(world, "SELECT kind, status FROM unit_mailings"):
            break
        desk.wait_for_timeout(100)
    assert rows(world, "SELECT kind, status FROM unit_mailings") == [("zalo", "copied")]


def test_the_big_screen_links_each_invited_unit_to_its_live_view(site, world, unit, page_factory):
    desk = page_factory(locale="en-GB", extra_http_headers={"Accept-Language": "en"})
    desk.goto(site + "/login")
    desk.locator("#username").fill("lan")
    desk.locator("#password").fill(world.organiser_password)
    desk.locator("form[action='/login'] button[type=submit]").click()
    desk.goto(site + f"/courses/{world.course.id}/live")
    link = desk.locator("#dash-units a.unit-name", has_text="Sở Y tế")
    expect(link).to_have_attribute("href", f"/courses/{world.course.id}/units/{unit['summoned']}/live")
    link.click()
    expect(desk.locator("#missing")).to_contain_text("Ngô Văn Hai")
