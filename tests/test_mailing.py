"""Emailing badge links through a real SMTP server (aiosmtpd on a free port): the messages that
arrive, each person's stored result, and re-sending only to those who failed."""

from __future__ import annotations

import asyncio
import socket
import time
from dataclasses import replace
from email import message_from_bytes, policy

import httpx2 as httpx
import pytest
from aiosmtpd.controller import Controller
from starlette.testclient import TestClient

from checkin.app import create_app
from checkin.store.db import transaction

from .conftest import sign_in

from .conftest import db_args


class Inbox:
    """An aiosmtpd handler that keeps what it receives and refuses some addresses."""

    def __init__(self) -> None:
        self.messages = []
        self.refuse: set[str] = set()
        self.delay = 0.0  # seconds each message takes to be accepted (a slow mail server)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refuse:
            return "550 5.1.1 No such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        await asyncio.sleep(self.delay)
        self.messages.append((list(envelope.rcpt_tos), message_from_bytes(envelope.content, policy=policy.default)))
        return "250 Message accepted"

    def to(self, address: str) -> list:
        return [m for rcpts, m in self.messages if address in rcpts]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def inbox():
    handler = Inbox()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield handler, controller.port
    controller.stop()


EMAILS = ["huong@example.org", "nam@example.org", "", "trang@example.org"]


def with_emails(world) -> None:
    conn = world.conn()
    with transaction(conn):
        for enrolment_id, email in zip(world.course.enrolments, EMAILS):
            conn.execute("UPDATE participants SET email = ? WHERE id = (SELECT participant_id FROM enrolments WHERE id = ?)",
                         (email, enrolment_id))
    conn.close()


@pytest.fixture
def mailer(world, inbox):
    handler, port = inbox
    with_emails(world)
    settings = replace(world.settings, smtp_host="127.0.0.1", smtp_port=port, smtp_tls="none",
                       smtp_sender="Ban Tổ chức <bantochuc@example.org>", base_url="https://checkin.example.org")
    with TestClient(create_app(settings, clock=world.clock)) as client:
        sign_in(client)
        yield client, handler


def csrf(client, course_id) -> str:
    page = client.get(f"/courses/{course_id}/badges/send")
    return page.text.split('name="csrf" value="', 1)[1].split('"', 1)[0]


def send(client, course_id, **form) -> dict:
    answer = client.post(f"/courses/{course_id}/badges/send", data={"csrf": csrf(client, course_id), **form},
                         follow_redirects=False)
    assert answer.status_code == 303, answer.text
    deadline = time.monotonic() + 30
    while True:
        status = client.get(f"/courses/{course_id}/badges/send/status").json()
        if status["run"]["state"] != "running" or time.monotonic() > deadline:
            return status
        time.sleep(0.05)


def results(world) -> dict[str, tuple]:
    conn = world.conn()
    try:
        rows = conn.execute("SELECT email, status, reason, attempts FROM badge_mailings ORDER BY enrolment_id")
        return {r[0]: (r[1], r[2], r[3]) for r in rows}
    finally:
        conn.close()


def test_each_person_with_an_address_gets_their_own_link_in_vietnamese(mailer, world):
    client, inbox = mailer
    status = send(client, world.course.id)
    assert status["run"] | {} == {"total": 3, "done": 3, "sent": 3, "failed": 0, "state": "done",
                                  "error": ""}
    assert len(inbox.messages) == 3
    [message] = inbox.to("huong@example.org")
    assert message["Subject"] == "Thẻ tham dự: Lớp bồi dưỡng cán bộ Đoàn"
    assert message["To"] == "Nguyễn Thị Hương <huong@example.org>"
    assert "bantochuc@example.org" in message["From"]
    body = message.get_content()
    assert f"https://checkin.example.org/b/{world.course.codes[0]}" in body
    assert "Kính gửi đồng chí Nguyễn Thị Hương" in body and "27/11/2026" in body
    for other in world.course.codes[1:]:
        assert other not in body
    assert results(world) == {e: ("sent", "", 1) for e in EMAILS if e}
    assert status["counts"] | {} == {"with_email": 3, "without_email": 1, "sent": 3, "failed": 0, "sending": 0,
                                     "to_send": 0}


def test_refused_address_is_recorded_and_only_failures_are_sent_again(mailer, world):
    client, inbox = mailer
    inbox.refuse.add("nam@example.org")
    first = send(client, world.course.id)
    assert (first["run"]["sent"], first["run"]["failed"]) == (2, 1)
    status, reason, attempts = results(world)["nam@example.org"]
    assert status == "failed" and reason.startswith("recipient refused: 550") and attempts == 1
    page = client.get(f"/courses/{world.course.id}/badges/send")
    assert "recipient refused: 550" in page.text

    inbox.refuse.clear()
    again = send(client, world.course.id, mode="unsent")
    assert (again["run"]["total"], again["run"]["sent"]) == (1, 1)
    assert [len(inbox.to(a)) for a in ("huong@example.org", "nam@example.org", "trang@example.org")] == [1, 1, 1]
    assert results(world)["nam@example.org"] == ("sent", "", 2)

    nothing = send(client, world.course.id, mode="failed")
    assert nothing["run"]["total"] == 0 and len(inbox.messages) == 3


def test_sending_everyone_again_needs_confirmation(mailer, world):
    client, inbox = mailer
    send(client, world.course.id)
    refused = client.post(f"/courses/{world.course.id}/badges/send",
                          data={"csrf": csrf(client, world.course.id), "mode": "all"})
    assert refused.status_code == 400 and "confirm_resend" in refused.text
    again = send(client, world.course.id, mode="all", confirm="yes")
    assert again["run"]["sent"] == 3 and len(inbox.messages) == 6


def test_reissued_badge_is_mailed_its_new_link(mailer, world):
    client, inbox = mailer
    send(client, world.course.id)
    from checkin.store import people

    conn = world.conn()
    with transaction(conn):
        new_code = people.issue_badge(conn, world.course.enrolments[0], world.clock())
    conn.close()
    again = send(client, world.course.id)
    assert again["run"]["total"] == 1
    assert new_code in inbox.to("huong@example.org")[-1].get_content()


def test_unreachable_server_stops_the_run_and_leaves_the_rest_unsent(world, inbox):
    with_emails(world)
    settings = replace(world.settings, smtp_host="127.0.0.1", smtp_port=free_port(), smtp_tls="none",
                       smtp_sender="bantochuc@example.org")
    with TestClient(create_app(settings, clock=world.clock)) as client:
        sign_in(client)
        status = send(client, world.course.id)
    assert status["run"]["state"] == "stopped" and "cannot reach the SMTP server" in status["run"]["error"]
    assert status["counts"]["failed"] == 1 and status["counts"]["to_send"] == 3


def test_sending_needs_an_smtp_server_and_an_organiser(client, world):
    assert client.post(f"/courses/{world.course.id}/badges/send", data={"mode": "unsent"}).status_code == 401
    sign_in(client)
    page = client.get(f"/courses/{world.course.id}/badges/send")
    assert page.status_code == 200 and "CHECKIN_SMTP_HOST" in page.text
    token = page.text.split('name="csrf" value="', 1)[1].split('"', 1)[0]
    answer = client.post(f"/courses/{world.course.id}/badges/send", data={"csrf": token})
    assert answer.status_code == 409 and "smtp_not_configured" in answer.text
    sign_in(client, "outsider")
    assert client.get(f"/courses/{world.course.id}/badges/send").status_code == 403


def test_cli_sends_then_sends_nothing_twice(world, inbox, monkeypatch, capsys):
    from checkin.cli import main

    handler, port = inbox
    with_emails(world)
    for name, value in {"CHECKIN_SMTP_HOST": "127.0.0.1", "CHECKIN_SMTP_PORT": str(port), "CHECKIN_SMTP_TLS": "none",
                        "CHECKIN_SMTP_SENDER": "bantochuc@example.org"}.items():
        monkeypatch.setenv(name, value)
    args = ["badges", "send", *db_args(world.settings), "--course", str(world.course.id)]
    assert main(args) == 0
    assert main(args) == 0
    assert main([*args, "--failed"]) == 0
    assert len(handler.messages) == 3
    err = capsys.readouterr().err
    assert "Sent 3, failed 0 of 3." in err and "Sent 0, failed 0 of 0." in err


@pytest.mark.parametrize("password,state", [("mail secret", "done"), ("wrong", "stopped")])
def test_smtp_sign_in_with_the_configured_user(world, password, state):
    from aiosmtpd.smtp import AuthResult, LoginPassword

    signed_in = []

    def authenticator(server, session, envelope, mechanism, auth_data):
        ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (b"btc", b"mail secret")
        if ok:
            signed_in.append(mechanism)
        return AuthResult(success=ok, handled=False)  # handled=True would leave the client without an answer

    handler = Inbox()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port(), authenticator=authenticator,
                            auth_require_tls=False)
    controller.start()
    try:
        with_emails(world)
        settings = replace(world.settings, smtp_host="127.0.0.1", smtp_port=controller.port, smtp_tls="none",
                           smtp_user="btc", smtp_password=password, smtp_sender="bantochuc@example.org")
        with TestClient(create_app(settings, clock=world.clock)) as client:
            sign_in(client)
            status = send(client, world.course.id)
    finally:
        controller.stop()
    assert status["run"]["state"] == state
    if state == "done":
        assert signed_in and len(handler.messages) == 3
    else:
        assert "refused the sign-in (535)" in status["run"]["error"] and handler.messages == []


def _mail_settings(world, port):
    return replace(world.settings, smtp_host="127.0.0.1", smtp_port=port, smtp_tls="none",
                   smtp_sender="Ban Tổ chức <bantochuc@example.org>", base_url="https://checkin.example.org")


async def _send_at_once(apps, course_id):
    """Sign in on each app, then POST "send" to every app at the same moment (a double click when one app is
    given twice, two server processes when two are); wait for the runs to end."""
    contexts = [app.router.lifespan_context(app) for app in apps]
    for ctx in contexts:
        await ctx.__aenter__()
    clients = [httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") for app in apps]
    try:
        tokens = []
        for http in clients:
            page = await http.get("/login")
            login_csrf = page.text.split('name="csrf" value="', 1)[1].split('"', 1)[0]
            await http.post("/login", data={"username": "lan", "password": "correct horse battery", "csrf": login_csrf,
                                            "next": "/courses"})
            page = await http.get(f"/courses/{course_id}/badges/send")
            tokens.append(page.text.split('name="csrf" value="', 1)[1].split('"', 1)[0])
        answers = await asyncio.gather(*[
            http.post(f"/courses/{course_id}/badges/send", data={"csrf": token, "mode": "unsent"})
            for http, token in zip(clients, tokens)])
        deadline = time.monotonic() + 30
        for http in clients:
            while time.monotonic() < deadline:
                run = (await http.get(f"/courses/{course_id}/badges/send/status")).json()["run"]
                if run is None or run["state"] != "running":
                    break
                await asyncio.sleep(0.05)
        return answers
    finally:
        for http in clients:
            await http.aclose()
        for ctx in contexts:
            await ctx.__aexit__(None, None, None)


def test_double_click_on_send_mails_each_person_once(world, inbox):
    handler, port = inbox
    with_emails(world)
    app = create_app(_mail_settings(world, port), clock=world.clock)
    answers = asyncio.run(_send_at_once([app, app], world.course.id))
    assert sorted(a.status_code for a in answers) == [303, 409]
    assert "already_sending" in next(a.text for a in answers if a.status_code == 409)
    assert sorted(address for rcpts, _m in handler.messages for address in rcpts) == sorted(e for e in EMAILS if e)
    assert results(world) == {e: ("sent", "", 1) for e in EMAILS if e}


def test_two_servers_sending_at_once_mail_each_person_once(world, inbox):
    handler, port = inbox
    handler.delay = 0.3  # the first run still going when the second server is asked, however slow the machine
    with_emails(world)
    settings = _mail_settings(world, port)
    apps = [create_app(settings, clock=world.clock) for _ in range(2)]
    answers = asyncio.run(_send_at_once(apps, world.course.id))
    # The run is one job in the database: the second server sees it running (and shows its progress).
    assert sorted(a.status_code for a in answers) == [303, 409]
    assert sorted(address for rcpts, _m in handler.messages for address in rcpts) == sorted(e for e in EMAILS if e)
    assert results(world) == {e: ("sent", "", 1) for e in EMAILS if e}
