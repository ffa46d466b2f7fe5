"""Sessions that end on the server, as a person sees it: the big screen stops showing names when its session ends,
keeps going when the same browser only changed its password, and an administrator disables an account."""

from __future__ import annotations

import httpx2 as httpx
from playwright.sync_api import expect
from starlette.testclient import TestClient

from checkin.app import create_app
from checkin.store import organisers
from checkin.store.db import transaction

from tests.conftest import bearer


def sign_in(page, base_url: str, username: str = "lan", password: str = "correct horse battery") -> None:
    page.route("**/favicon.ico", lambda route: route.fulfill(status=204))
    page.goto(base_url + "/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.locator("form[action='/login'] button[type=submit]").click()
    page.wait_for_url("**/courses")


def scan(base_url: str, world, index: int) -> None:
    answer = httpx.post(base_url + "/api/v1/scans", json={"code": world.course.codes[index], "method": "camera"},
                        headers=bearer(world.course.token), timeout=5)
    assert answer.status_code == 200 and answer.json()["accepted"], answer.text


def only_the_refused_snapshot_was_an_error(page_factory, page) -> bool:
    """Chromium logs the snapshot's 401 (how the page learns it is signed out) as a console error: that one is
    expected; anything else is not."""
    log = page_factory.log(page)
    others = [e for e in log.errors if not ("status of 401" in e and "/live.json" in e)]
    log.errors.clear()
    return others == []


def add_admin(world) -> None:
    conn = world.conn()
    with transaction(conn):
        organisers.insert_organiser(conn, "admin", "Quản trị", "admin password 1", world.clock(), is_admin=True)
    conn.close()


def test_the_big_screen_takes_the_names_off_when_an_administrator_disables_the_account(
        app, world, live_server, page_factory):
    base_url = live_server(app)
    add_admin(world)
    screen = page_factory(locale="en-GB", extra_http_headers={"Accept-Language": "en"})
    sign_in(screen, base_url)
    screen.goto(f"{base_url}/courses/{world.course.id}/live")
    expect(screen.locator("#dash-status")).to_have_text("Live")
    expect(screen.locator("#dash-sign-in")).to_be_hidden()
    scan(base_url, world, 1)
    expect(screen.locator("#dash-recent li").first).to_contain_text("Trần Văn Nam")

    admin = page_factory(locale="en-GB", extra_http_headers={"Accept-Language": "en"})
    sign_in(admin, base_url, "admin", "admin password 1")
    admin.goto(base_url + "/organisers")
    admin.locator("#account-1").get_by_role("button", name="Disable and sign out").click()
    expect(admin.locator("#account-1")).to_contain_text("disabled")
    expect(admin.locator("#account-1").get_by_role("button", name="Enable")).to_be_visible()
    expect(admin.locator("#account-3").get_by_role("button")).to_have_count(0)  # not one's own account

    expect(screen.locator("#dash-status")).to_have_text("Signed out", timeout=3000)
    expect(screen.locator("#dash-recent li")).to_have_count(0)
    expect(screen.locator("#dash-sign-in")).to_be_visible()
    scan(base_url, world, 2)
    screen.wait_for_timeout(500)
    expect(screen.locator("#dash-recent")).not_to_contain_text("Lê Minh Đức")
    screen.locator("#dash-sign-in").click()
    expect(screen).to_have_url(f"{base_url}/login?next=/courses/{world.course.id}/live")
    assert only_the_refused_snapshot_was_an_error(page_factory, screen)


def test_the_big_screen_carries_on_when_its_own_browser_changes_the_password(app, world, live_server, page_factory):
    base_url = live_server(app)
    screen = page_factory(locale="en-GB", extra_http_headers={"Accept-Language": "en"})
    sign_in(screen, base_url)
    screen.goto(f"{base_url}/courses/{world.course.id}/live")
    expect(screen.locator("#dash-status")).to_have_text("Live")

    # Another tab of the same browser changes the password: the old session ends (its stream says so), the
    # browser holds the new one, and the big screen reconnects with it instead of signing out.
    tab = screen.context.new_page()
    tab.goto(base_url + "/account/password")
    tab.fill("#f-current", "correct horse battery")
    tab.fill("#f-password", "một mật khẩu mới hẳn")
    tab.fill("#f-again", "một mật khẩu mới hẳn")
    tab.get_by_role("button", name="Change password").click()
    expect(tab.get_by_role("status")).to_contain_text("Your password is changed.")

    scan(base_url, world, 0)
    expect(screen.locator("#dash-recent li").first).to_contain_text("Nguyễn Thị Hương", timeout=8000)
    expect(screen.locator("#dash-status")).to_have_text("Live")
    expect(screen.locator("#dash-sign-in")).to_be_hidden()


def test_a_session_ended_on_another_server_signs_the_big_screen_out(app, world, live_server, page_factory,
                                                                   monkeypatch):
    from checkin.routes import live

    monkeypatch.setattr(live, "HEARTBEAT_SECONDS", 0.4)
    base_url = live_server(app)
    screen = page_factory(locale="vi-VN")
    sign_in(screen, base_url)
    screen.goto(f"{base_url}/courses/{world.course.id}/live")
    expect(screen.locator("#dash-status")).to_have_text("Trực tiếp")
    cookie = next(c["value"] for c in screen.context.cookies() if c["name"] == "checkin_session")
    # The same browser's cookie signs out through another server on the same database.
    with TestClient(create_app(world.settings, clock=world.clock)) as other:
        other.cookies.set("checkin_session", cookie)
        page = other.get("/courses")
        token = page.text.split('name="csrf" value="', 1)[1].split('"', 1)[0]
        assert other.post("/logout", data={"csrf": token}, follow_redirects=False).status_code == 303
    # Nothing tells this server but the database, which its streams look at on their heartbeats.
    expect(screen.locator("#dash-status")).to_have_text("Đã đăng xuất", timeout=5000)
    expect(screen.locator("#dash-sign-in")).to_have_text("Đăng nhập lại")
    assert only_the_refused_snapshot_was_an_error(page_factory, screen)
