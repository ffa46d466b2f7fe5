"""Organiser accounts: only administrators add organisers and put them on courses; sign-in limits."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from checkin.store import organisers
from checkin.store.db import transaction

from .conftest import csrf, rows, sign_in

from .conftest import db_args


@pytest.fixture
def admin(client, world):
    conn = world.conn()
    with transaction(conn):
        organisers.insert_organiser(conn, "admin", "Quản trị", "admin password 1", world.clock(), is_admin=True)
    conn.close()
    client.cookies.set("lang", "en")
    sign_in(client, "admin", "admin password 1")
    return client


def test_admin_adds_an_organiser_who_can_then_sign_in(admin, world, app):
    answer = admin.post("/organisers", data={"username": "Hoa.Tran", "display_name": "Trần Hoa",
                                             "password": "mật khẩu dài đủ", "csrf": csrf(admin)}, follow_redirects=False)
    assert answer.status_code == 303
    assert rows(world, "SELECT username, display_name, is_admin FROM organisers WHERE username = 'hoa.tran'") == [
        ("hoa.tran", "Trần Hoa", 0)]
    from starlette.testclient import TestClient

    with TestClient(app) as other:
        assert sign_in(other, "hoa.tran", "mật khẩu dài đủ").status_code == 303
        assert "Lớp bồi dưỡng cán bộ Đoàn" not in other.get("/courses").text


def test_short_password_and_taken_user_name_are_refused(admin, world):
    short = admin.post("/organisers", data={"username": "moi", "display_name": "Mới", "password": "ngan",
                                            "csrf": csrf(admin)})
    assert short.status_code == 422 and 'id="f-password-error"' in short.text and "At least 10 characters." in short.text
    taken = admin.post("/organisers", data={"username": "lan", "display_name": "Lan 2", "password": "x" * 12,
                                            "csrf": csrf(admin)})
    assert taken.status_code == 422 and "This user name is taken." in taken.text
    assert rows(world, "SELECT COUNT(*) FROM organisers") == [(3,)]


def test_admin_puts_an_organiser_on_a_course(admin, world):
    answer = admin.post("/organisers/assign", data={"organiser_id": "2", "course_id": str(world.other.id),
                                                    "csrf": csrf(admin)}, follow_redirects=False)
    assert answer.status_code == 303
    assert rows(world, "SELECT organiser_id FROM course_organisers WHERE course_id = ?", world.other.id) == [(2,)]


def test_admin_sees_every_course(admin, world):
    page = admin.get("/courses")
    assert "Lớp tập huấn khác" in page.text and "Lớp bồi dưỡng cán bộ Đoàn" in page.text
    assert admin.get(f"/courses/{world.other.id}/people").status_code == 200


def test_non_admin_cannot_manage_accounts(client, world):
    client.cookies.set("lang", "en")
    sign_in(client)
    assert client.get("/organisers").status_code == 403
    answer = client.post("/organisers", data={"username": "x", "display_name": "X", "password": "y" * 12,
                                              "csrf": csrf(client)})
    assert answer.status_code == 403
    assert rows(world, "SELECT COUNT(*) FROM organisers") == [(2,)]


def test_account_form_without_csrf_is_refused(admin, world):
    assert admin.post("/organisers", data={"username": "x", "display_name": "X", "password": "y" * 12}).status_code == 403


def test_sign_in_is_rate_limited(client, world):
    for _ in range(5):
        assert sign_in(client, "lan", "wrong password").status_code == 400
    assert sign_in(client, "lan", "correct horse battery").status_code == 429


def test_cli_resets_a_forgotten_password_and_lists_accounts(world, monkeypatch, capsys):
    import io

    from checkin import cli

    monkeypatch.setattr("sys.stdin", io.StringIO("một mật khẩu mới\n"))
    assert cli.main(["user", "password", "lan", "--password-stdin", *db_args(world.settings)]) == 0
    conn = world.conn()
    assert organisers.authenticate(conn, "lan", "một mật khẩu mới") is not None
    conn.close()
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    assert cli.main(["user", "password", "lan", "--password-stdin", *db_args(world.settings)]) == 2
    capsys.readouterr()
    assert cli.main(["user", "list", *db_args(world.settings)]) == 0
    listing = capsys.readouterr().out.splitlines()
    assert listing[1] == f"1\tlan\tNguyễn Lan\torganiser\t{world.course.id}"
    assert listing[2] == "2\toutsider\tNgười ngoài\torganiser\t-"


def test_password_reset_on_the_command_line_signs_out_the_old_session(client, world):
    client.cookies.set("lang", "en")
    sign_in(client)
    assert client.get("/courses").status_code == 200
    stolen = dict(client.cookies)
    env = {**os.environ, "CHECKIN_DATA_DIR": str(world.settings.data_dir), "CHECKIN_DB": str(world.settings.db_path)}
    done = subprocess.run([sys.executable, "-m", "checkin", "user", "password", "lan", "--password-stdin"],
                          input="a brand new password\n", capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    # The session signed in before the reset, and a copy of its cookie, are both signed out.
    again = client.get("/courses", follow_redirects=False)
    assert again.status_code == 303 and again.headers["location"].startswith("/login")
    client.cookies.clear()
    client.cookies.update(stolen)
    assert client.get("/courses", follow_redirects=False).status_code == 303
    # Signing in with the new password works; the old one no longer does.
    assert sign_in(client, "lan", "correct horse battery").status_code == 400
    assert sign_in(client, "lan", "a brand new password").status_code == 303
    assert client.get("/courses").status_code == 200


def change_password(client, current: str, new: str, again: str | None = None):
    return client.post("/account/password", data={"current": current, "password": new,
                                                  "again": new if again is None else again,
                                                  "csrf": csrf(client, "/account/password")}, follow_redirects=False)


def test_an_organiser_changes_their_password_and_other_sessions_end(signed_in, world):
    # The same organiser signed in elsewhere too (a phone) holds a cookie like this one's.
    phone = signed_in.cookies.get("checkin_session")
    answer = change_password(signed_in, "correct horse battery", "một mật khẩu mới hẳn")
    assert answer.status_code == 303 and answer.headers["location"] == "/account/password?changed=1"
    assert "Your password is changed." in signed_in.get(answer.headers["location"]).text
    assert signed_in.get("/courses").status_code == 200, "the browser that changed it stays signed in"
    signed_in.cookies.clear()
    signed_in.cookies.set("checkin_session", phone)
    assert signed_in.get("/courses", follow_redirects=False).status_code == 303, "the other one is signed out"
    assert sign_in(signed_in).status_code == 400
    assert sign_in(signed_in, password="một mật khẩu mới hẳn").status_code == 303
    assert rows(world, "SELECT action, detail FROM audit_log WHERE action = 'password_changed'") == [
        ("password_changed", "lan")]


def test_a_password_change_needs_the_current_password_and_the_new_one_twice(signed_in, world):
    before = rows(world, "SELECT password_hash FROM organisers WHERE username = 'lan'")
    wrong = change_password(signed_in, "not my password", "một mật khẩu mới hẳn")
    assert wrong.status_code == 422 and "This is not your current password." in wrong.text
    differ = change_password(signed_in, "correct horse battery", "một mật khẩu mới hẳn", "một mật khẩu khác")
    assert differ.status_code == 422 and 'id="f-again-error"' in differ.text
    short = change_password(signed_in, "correct horse battery", "ngắn")
    assert short.status_code == 422 and "At least 10 characters." in short.text
    same = change_password(signed_in, "correct horse battery", "correct horse battery")
    assert same.status_code == 422 and "This is the password you have now." in same.text
    for page in (wrong, differ, short, same):
        assert "correct horse battery" not in page.text and "một mật khẩu" not in page.text, "no password echoed"
    assert rows(world, "SELECT password_hash FROM organisers WHERE username = 'lan'") == before


def test_wrong_current_passwords_are_limited_like_sign_ins(signed_in, world):
    for _ in range(5):
        assert change_password(signed_in, "guess", "một mật khẩu mới hẳn").status_code == 422
    blocked = change_password(signed_in, "correct horse battery", "một mật khẩu mới hẳn")
    assert blocked.status_code == 429 and "Too many wrong passwords." in blocked.text
    assert signed_in.get("/courses").status_code == 200


def test_the_password_page_needs_sign_in_and_csrf(client, world):
    assert client.get("/account/password", follow_redirects=False).headers["location"].startswith("/login")
    sign_in(client)
    forged = client.post("/account/password", data={"current": "correct horse battery", "password": "x" * 12,
                                                    "again": "x" * 12})
    assert forged.status_code == 403
