"""Sending units their links and reminders through a real local SMTP server (aiosmtpd): the Vietnamese message
with the unit's own link, each attempt recorded per unit (sent, failed), reminders only to units not confirmed."""

from __future__ import annotations

import time
from dataclasses import replace

import pytest
from starlette.testclient import TestClient

from checkin.app import create_app

from .conftest import csrf, rows, sign_in
from .test_mailing import free_port, inbox  # noqa: F401 - the real SMTP server fixture
from .test_units import DIRECTORY_CSV, add, directory_ids, import_directory, page_csrf, person, summon, summoned_ids, unit_link


@pytest.fixture
def mailer(world, inbox):  # noqa: F811
    handler, port = inbox
    settings = replace(world.settings, smtp_host="127.0.0.1", smtp_port=port, smtp_tls="none",
                       smtp_sender="Ban Tổ chức <bantochuc@example.org>", base_url="https://checkin.example.org")
    with TestClient(create_app(settings, clock=world.clock)) as client:
        client.cookies.set("lang", "en")
        sign_in(client)
        cid = world.course.id
        import_directory(client, cid, DIRECTORY_CSV.encode())
        ids = directory_ids(world)
        summon(client, cid, {ids["Sở Y tế"]: 3, ids["Sở Tài chính"]: 2, ids["Cục Thuế thành phố"]: 1})
        yield client, handler


def send(client, world, kind: str):
    cid = world.course.id
    return client.post(f"/courses/{cid}/units/send", data={"csrf": csrf(client, f"/courses/{cid}/units"), "kind": kind},
                       follow_redirects=False)


def sent(client, world, kind: str) -> dict:
    """Start a sending run (a job: the answer comes at once) and follow it as the board does, to its end."""
    answer = send(client, world, kind)
    assert answer.status_code == 303, answer.text
    assert answer.headers["location"] == f"/courses/{world.course.id}/units?done=sending#send-run"
    deadline = time.monotonic() + 20
    while (run := client.get(f"/courses/{world.course.id}/units/send/status").json()["run"])["state"] == "running":
        assert time.monotonic() < deadline, run
        time.sleep(0.05)
    return run


def test_each_unit_gets_its_own_link_in_vietnamese_and_each_attempt_is_recorded(mailer, world):
    client, inbox = mailer
    handler = inbox
    handler.refuse.add("hung@stc.example.org")
    assert sent(client, world, "link") == {"total": 3, "done": 3, "sent": 1, "failed": 2, "state": "done", "error": ""}
    [message] = handler.to("mai@syt.example.org")
    body = message.get_content()
    link = "https://checkin.example.org" + unit_link(world, summoned_ids(world)["Sở Y tế"])
    assert str(message["Subject"]) == "Đề nghị cử cán bộ: Lớp bồi dưỡng cán bộ Đoàn"
    assert "Kính gửi Sở Y tế" in body and "Số lượng: 3 đồng chí" in body and link in body
    assert unit_link(world, summoned_ids(world)["Sở Tài chính"]) not in body
    recorded = rows(world, "SELECT m.name, x.kind, x.status FROM unit_mailings x JOIN summoned_units s"
                           " ON s.id = x.summoned_unit_id JOIN member_units m ON m.id = s.member_unit_id ORDER BY m.name")
    assert recorded == [("Cục Thuế thành phố", "link", "failed"), ("Sở Tài chính", "link", "failed"),
                        ("Sở Y tế", "link", "sent")]
    board = client.get(f"/courses/{world.course.id}/units").text
    assert "failed" in board and "sent" in board and "Finished: sent 1, failed 2." in board
    # Sending the links again goes to those that failed only.
    handler.refuse.clear()
    assert sent(client, world, "link")["total"] == 2
    assert len(handler.to("mai@syt.example.org")) == 1 and len(handler.to("hung@stc.example.org")) == 1


def test_reminders_go_only_to_units_that_have_not_confirmed(mailer, world):
    client, handler = mailer
    link = unit_link(world, summoned_ids(world)["Sở Y tế"])
    add(client, link, **person("Lê Thị Một", "0911000001"))
    client.post(f"{link}/confirm", data={"csrf": page_csrf(client, link)})
    sent(client, world, "reminder")
    assert handler.to("mai@syt.example.org") == []
    [reminder] = handler.to("hung@stc.example.org")
    assert str(reminder["Subject"]).startswith("Nhắc gửi danh sách")
    assert "chưa xác nhận danh sách" in reminder.get_content()
    assert rows(world, "SELECT kind, status FROM unit_mailings WHERE address = 'hung@stc.example.org'") == [
        ("reminder", "sent")]


def test_sending_needs_an_smtp_server(signed_in, world):
    import_directory(signed_in, world.course.id, DIRECTORY_CSV.encode())
    summon(signed_in, world.course.id, {directory_ids(world)["Sở Y tế"]: 3})
    answer = send(signed_in, world, "link")
    assert answer.status_code == 409 and "smtp_not_configured" in answer.text
    assert rows(world, "SELECT COUNT(*) FROM unit_mailings") == [(0,)]


def test_a_second_run_while_one_is_sending_is_refused_and_the_first_goes_on(mailer, world):
    client, handler = mailer
    handler.delay = 0.5  # a slow mail server: the run takes a while
    first = send(client, world, "link")
    assert first.status_code == 303
    again = send(client, world, "reminder")
    assert again.status_code == 409 and "already_sending" in again.text
    board = client.get(f"/courses/{world.course.id}/units").text
    assert 'data-running="true"' in board and "Sending: " in board
    handler.delay = 0.0
    deadline = time.monotonic() + 20
    while client.get(f"/courses/{world.course.id}/units/send/status").json()["run"]["state"] == "running":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert rows(world, "SELECT kind, status FROM unit_mailings WHERE address = 'mai@syt.example.org'") == [
        ("link", "sent")]


def test_a_mail_server_that_cannot_be_reached_stops_the_run_and_says_so(mailer, world):
    client, handler = mailer
    unreachable = replace(world.settings, smtp_host="127.0.0.1", smtp_port=free_port(), smtp_tls="none",
                          smtp_sender="Ban Tổ chức <bantochuc@example.org>", base_url="https://checkin.example.org")
    with TestClient(create_app(unreachable, clock=world.clock)) as other:
        other.cookies.set("lang", "en")
        sign_in(other)
        run = sent(other, world, "link")
        assert run["state"] == "stopped" and run["error"]
        assert f"Stopped: {run['error']}" in other.get(f"/courses/{world.course.id}/units").text
    # Nothing went out; the first unit tried is recorded as failed with the reason, the others keep no result.
    assert handler.messages == []
    assert rows(world, "SELECT status, reason FROM unit_mailings WHERE reason <> 'no valid e-mail address'") == [
        ("failed", run["error"])]
