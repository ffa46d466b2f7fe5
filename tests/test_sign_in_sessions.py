"""Organisers' sessions end on the server: logging out, a password change or an administrator disabling the account
ends them for every copy of the cookie and on every server; the cookie is Secure over HTTPS and holds nothing
readable."""

from __future__ import annotations

import base64
import binascii
import re
import pytest
from starlette.testclient import TestClient

from checkin.app import create_app
from checkin.store import organisers
from checkin.store.db import transaction

from .conftest import csrf, rows, sign_in

COOKIE = "checkin_session"


def signed_out(client) -> bool:
    answer = client.get("/courses", follow_redirects=False)
    return answer.status_code == 303 and answer.headers["location"].startswith("/login")


def log_out(client):
    return client.post("/logout", data={"csrf": csrf(client)}, follow_redirects=False)


def test_logging_out_ends_the_session_for_a_copied_cookie_too(signed_in, world):
    copied = signed_in.cookies.get(COOKIE)
    assert log_out(signed_in).status_code == 303
    assert signed_out(signed_in)
    signed_in.cookies.set(COOKIE, copied)
    assert signed_out(signed_in), "a copy of the cookie taken before logging out no longer works"


def test_a_session_is_kept_on_the_server_by_the_hash_of_its_id(signed_in, world):
    cookie = signed_in.cookies.get(COOKIE)
    [(organiser_id, secret_hash, created, seen, expires, ended)] = rows(
        world, "SELECT organiser_id, secret_hash, created_at, last_seen_at, expires_at, ended_at FROM sign_in_sessions")
    assert organiser_id == 1 and ended is None and created == seen
    assert len(secret_hash) == 64 and secret_hash not in cookie
    assert expires > created
    log_out(signed_in)
    assert rows(world, "SELECT end_reason FROM sign_in_sessions WHERE ended_at IS NOT NULL") == [("signed_out",)]


def test_logging_out_on_one_server_ends_the_session_on_another(world):
    with TestClient(create_app(world.settings, clock=world.clock)) as first, \
            TestClient(create_app(world.settings, clock=world.clock)) as second:
        sign_in(first)
        second.cookies.set(COOKIE, first.cookies.get(COOKIE))
        assert second.get("/courses").status_code == 200, "the other server knows the session"
        assert log_out(second).status_code == 303
        assert signed_out(first)


def test_a_session_ends_after_fourteen_days_without_use_and_lives_on_while_used(signed_in, world):
    world.clock.advance(days=10)
    assert signed_in.get("/courses").status_code == 200
    world.clock.advance(days=10)
    assert signed_in.get("/courses").status_code == 200, "used four days after being seen: still on"
    world.clock.advance(days=14, seconds=1)
    assert signed_out(signed_in)


def test_a_password_changed_on_the_command_line_ends_every_session(signed_in, world):
    conn = world.conn()
    with transaction(conn):
        organisers.set_password(conn, 1, "a brand new password", world.clock())
    conn.close()
    assert signed_out(signed_in)
    assert rows(world, "SELECT end_reason FROM sign_in_sessions") == [("password_changed",)]


# --- an administrator disables an account ------------------------------------------------------------------


@pytest.fixture
def admin(world):
    """An administrator's browser, on a server of its own (as if behind another instance)."""
    conn = world.conn()
    with transaction(conn):
        organisers.insert_organiser(conn, "admin", "Quản trị", "admin password 1", world.clock(), is_admin=True)
    conn.close()
    with TestClient(create_app(world.settings, clock=world.clock)) as client:
        client.cookies.set("lang", "en")
        sign_in(client, "admin", "admin password 1")
        yield client


def set_disabled(client, organiser_id: int, disabled: bool):
    action = "disable" if disabled else "enable"
    return client.post(f"/organisers/{organiser_id}/{action}", data={"csrf": csrf(client, "/organisers")},
                       follow_redirects=False)


def test_disabling_an_account_ends_its_sessions_and_refuses_its_password(admin, signed_in, world):
    assert set_disabled(admin, 1, True).status_code == 303
    assert signed_out(signed_in)
    refused = sign_in(signed_in)
    assert refused.status_code == 403 and "This account is disabled" in refused.text
    row = re.search(r'<tr id="account-1">.*?</tr>', admin.get("/organisers").text, re.S).group(0)
    assert "disabled" in row and 'action="/organisers/1/enable"' in row
    assert rows(world, "SELECT action, detail FROM audit_log WHERE action LIKE 'organiser_%abled'") == [
        ("organiser_disabled", "lan")]
    assert set_disabled(admin, 1, False).status_code == 303
    assert sign_in(signed_in).status_code == 303
    assert signed_in.get("/courses").status_code == 200


def test_only_an_administrator_disables_and_never_their_own_account(admin, signed_in, world):
    assert set_disabled(signed_in, 2, True).status_code == 403
    own = set_disabled(admin, 3, True)
    assert own.status_code == 422 and "your own account" in own.text
    missing = set_disabled(admin, 99, True)
    assert missing.status_code == 404
    assert rows(world, "SELECT COUNT(*) FROM organisers WHERE disabled_at IS NOT NULL") == [(0,)]


# --- the cookie ----------------------------------------------------------------------------------------------


def set_cookie_header(answer) -> str:
    return next(h for h in answer.headers.get_list("set-cookie") if h.startswith(COOKIE + "="))


def test_the_session_cookie_is_secure_over_https_only(app, world):
    with TestClient(app, base_url="https://testserver") as secure:
        header = set_cookie_header(sign_in(secure))
        assert "secure" in header.lower() and "httponly" in header.lower() and "samesite=lax" in header.lower()
        assert secure.get("/courses").status_code == 200
    with TestClient(app) as plain:
        header = set_cookie_header(sign_in(plain))
        assert "secure" not in header.lower()


def readable_parts(cookie_value: str) -> str:
    """Whatever base64 in the cookie decodes to, as text (Starlette's cookie is base64 JSON plus a signature)."""
    found = []
    for part in re.split(r"[.!]", cookie_value.strip('"')):
        for decode in (base64.b64decode, base64.urlsafe_b64decode):
            try:
                found.append(decode(part + "=" * (-len(part) % 4)).decode("utf-8", "replace"))
            except (binascii.Error, ValueError):
                pass
    return " ".join(found)


def test_the_pairing_code_is_not_readable_in_the_cookie(signed_in, world):
    page = signed_in.get(f"/courses/{world.course.id}/devices")
    token = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    made = signed_in.post(f"/courses/{world.course.id}/devices/pairings",
                          data={"csrf": token, "lifetime": "30", "max_uses": "5"}, follow_redirects=False)
    cookie = signed_in.cookies.get(COOKIE)
    shown = signed_in.get(made.headers["location"])
    code = re.search(r'id="pairing-link" href="[^"]+/p/([A-Z0-9]+)"', shown.text).group(1)
    assert code not in readable_parts(cookie) and code not in cookie
    assert "new_pairing" not in readable_parts(cookie)


def test_a_tampered_cookie_is_no_session(signed_in, world):
    cookie = signed_in.cookies.get(COOKIE)
    flipped = cookie[:20] + ("A" if cookie[20] != "A" else "B") + cookie[21:]
    signed_in.cookies.clear()
    signed_in.cookies.set(COOKIE, flipped)
    assert signed_out(signed_in)
    signed_in.cookies.set(COOKIE, "x" * 5000)
    assert signed_out(signed_in)


def test_the_cookie_of_a_signed_in_organiser_carries_no_readable_session_id(signed_in, world):
    assert "organiser_id" not in readable_parts(signed_in.cookies.get(COOKIE))


def test_sessions_long_expired_are_pruned_when_someone_signs_in(signed_in, world):
    log_out(signed_in)
    world.clock.advance(days=60)
    sign_in(signed_in)
    assert rows(world, "SELECT COUNT(*) FROM sign_in_sessions") == [(1,)]
