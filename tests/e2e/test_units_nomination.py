"""A unit's secretary on a phone, in a real browser: opens the unit's link, nominates three cadres, hits the
quota, confirms; after the deadline proposes a substitution that the organiser approves on the course page; the
new person's badge opens the door and the old one is refused (badge_revoked)."""

from __future__ import annotations

import httpx2 as httpx
import pytest
from playwright.sync_api import expect

from checkin.app import create_app
from checkin.store import bodies, unit_directory, units
from checkin.store.db import transaction
from checkin.store.unit_directory import MemberUnitDetails
from checkin.units import links

from tests.conftest import local

PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2, "is_mobile": True, "has_touch": True}


@pytest.fixture
def site(world, live_server):
    return live_server(create_app(world.settings, clock=world.clock))


@pytest.fixture
def unit_path(world):
    """Sở Y tế invited with a quota of 3 and a deadline at 7:55 on the course day (the clock says 7:50)."""
    conn = world.conn()
    with transaction(conn):
        body = bodies.get_course_body(conn, world.course.id)
        entry = unit_directory.insert_member_unit(conn, body.id, MemberUnitDetails("Sở Y tế", "SYT", "Trần Thị Mai"), world.clock())
        summoned = units.summon_unit(conn, world.course.id, entry, 3, "Bí thư, Phó Bí thư, 01 Ủy viên BTV", world.clock())
        units.upsert_summons(conn, world.course.id, local(7, 55), False, world.clock())
        secret = links.live_secret(conn, world.settings.secret_key, summoned, world.clock())
    conn.close()
    return f"/u/{secret}"


def rows(world, sql, *args):
    conn = world.conn()
    try:
        return [tuple(r) for r in conn.execute(sql, args).fetchall()]
    finally:
        conn.close()


def _fill(page, prefix: str, name: str, position: str, phone: str) -> None:
    page.locator(f"#{prefix}-full_name").fill(name)
    page.locator(f"#{prefix}-position").fill(position)
    page.locator(f"#{prefix}-phone").fill(phone)


def _allow_refusals(page_factory, page) -> None:
    # A refused form (409 quota) is a page the server chose to answer with; Chromium logs it as a failed resource.
    log = page_factory.log(page)
    log.errors[:] = [e for e in log.errors if "status of 4" not in e or "/static/" in e]


def test_secretary_nominates_confirms_and_a_late_substitution_is_approved(site, world, unit_path, page_factory):
    phone = page_factory(locale="vi-VN", extra_http_headers={"Accept-Language": "vi"}, **PHONE)
    phone.goto(site + unit_path)
    expect(phone.get_by_role("heading", name="Sở Y tế")).to_be_visible()
    expect(phone.locator("#quota-line")).to_contain_text("Đơn vị cử 3 đồng chí")
    for name, position, number in (("Lê Thị Một", "Bí thư", "0911000001"), ("Ngô Văn Hai", "Phó Bí thư", "0911000002"),
                                   ("Đỗ Thị Ba", "Ủy viên BTV", "0911000003")):
        _fill(phone, "a", name, position, number)
        phone.get_by_role("button", name="Thêm", exact=True).click()
        expect(phone.locator("#done")).to_have_text("Đã thêm.")
    expect(phone.locator("#count")).to_have_text("(3/3)")
    expect(phone.locator("#list-full")).to_be_visible()
    _fill(phone, "a", "Phan Văn Tư", "Ủy viên", "0911000004")
    phone.get_by_role("button", name="Thêm", exact=True).click()
    expect(phone.locator("#problem")).to_contain_text("Danh sách của đơn vị đã đủ số lượng")
    _allow_refusals(page_factory, phone)
    assert rows(world, "SELECT COUNT(*) FROM nominees") == [(3,)]
    phone.goto(site + unit_path)
    phone.get_by_role("button", name="Xác nhận danh sách").click()
    expect(phone.locator("#done")).to_contain_text("Đã xác nhận danh sách")
    old_code = rows(world, "SELECT b.code FROM badges b JOIN nominees n ON n.enrolment_id = b.enrolment_id"
                           " WHERE n.full_name = 'Lê Thị Một'")[0][0]

    world.clock.set(local(7, 58))  # past the deadline
    phone.goto(site + unit_path)
    expect(phone.locator("#deadline-passed")).to_be_visible()
    first = phone.locator(".nominee").filter(has_text="Lê Thị Một")
    first.get_by_text("Thay người này").click()
    prefix = "s" + first.get_attribute("data-nominee-id")
    _fill(phone, prefix, "Phan Văn Mới", "Bí thư", "0911000005")
    phone.locator(f"#{prefix}-reason").fill("Đồng chí Một đi công tác")
    first.get_by_role("button", name="Đề nghị thay người").click()
    expect(phone.locator("#done")).to_contain_text("gửi Ban Tổ chức")

    desk = page_factory(locale="vi-VN", extra_http_headers={"Accept-Language": "vi"})
    desk.goto(site + "/login")
    desk.locator("#username").fill("lan")
    desk.locator("#password").fill(world.organiser_password)
    desk.locator("form[action='/login'] button[type=submit]").click()
    desk.goto(site + f"/courses/{world.course.id}/units")
    card = desk.locator(".substitution")
    expect(card).to_contain_text("Phan Văn Mới thay Lê Thị Một")
    card.get_by_role("button", name="Duyệt").click()
    expect(desk.get_by_role("status")).to_contain_text("Đã duyệt thay người")

    phone.goto(site + unit_path)
    expect(phone.locator("#substitutions")).to_contain_text("đã duyệt")
    new_code = rows(world, "SELECT b.code FROM badges b JOIN nominees n ON n.enrolment_id = b.enrolment_id"
                           " WHERE n.full_name = 'Phan Văn Mới' AND b.revoked_at IS NULL")[0][0]
    world.clock.set(local(8, 5))
    door = {"Authorization": f"Bearer {world.course.token}"}
    new = httpx.post(site + "/api/v1/scans", json={"code": new_code}, headers=door).json()
    assert (new["accepted"], new["participant"]["name"], new["participant"]["unit"]) == (True, "Phan Văn Mới", "Sở Y tế")
    old = httpx.post(site + "/api/v1/scans", json={"code": old_code}, headers=door).json()
    assert (old["accepted"], old["reason"]) == (False, "badge_revoked")
    phone.goto(site + unit_path + "/live")
    expect(phone.locator("#arrived")).to_contain_text("Phan Văn Mới")
    expect(phone.locator("#missing")).to_contain_text("Ngô Văn Hai")
