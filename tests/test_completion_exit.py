"""Exit scans ("Ra về / Leaving") through the one scan path, on both stores: each answer, the departure stored,
left_early in every report, and nothing changed for a course without exit scans."""

from __future__ import annotations

import pytest

from checkin.store import completion
from checkin.store.completion import CompletionRule, SessionRule
from checkin.store.db import transaction

from .conftest import bearer, csrf, local, rows


def scan(client, token, code, **body):
    return client.post("/api/v1/scans", json={"code": code, **body}, headers=bearer(token))


def leave(client, token, code, **body):
    return scan(client, token, code, direction="out", **body)


def exits_on(world, pct=75, **rule):
    conn = world.conn()
    with transaction(conn):
        completion.set_rule(conn, CompletionRule(world.course.id, exit_scans=True, min_present_pct=pct, **rule),
                            world.clock())
    conn.close()


def test_without_exit_scans_a_leaving_scan_changes_nothing(client, world):
    world.clock.set(local(8, 5))
    scan(client, world.course.token, world.course.codes[0])
    world.clock.set(local(8, 10))
    body = leave(client, world.course.token, world.course.codes[0]).json()
    assert body["reason"] == "exit_scans_off" and body["accepted"] is False
    assert rows(world, "SELECT status, checked_out_at, left_early FROM attendance") == [("present", None, 0)]
    assert client.get("/api/v1/device", headers=bearer(world.course.token)).json()["course"]["exit_scans"] is False


def test_leaving_early_is_left_early_everywhere(client, world, signed_in):
    exits_on(world)
    world.clock.set(local(7, 55))
    assert scan(client, world.course.token, world.course.codes[0]).json()["reason"] == "checked_in"
    assert scan(client, world.course.token, world.course.codes[1]).json()["reason"] == "checked_in"
    assert client.get("/api/v1/device", headers=bearer(world.course.token)).json()["course"]["exit_scans"] is True
    world.clock.set(local(8, 10))  # 10 of the opening's 30 minutes
    body = leave(client, world.course.token, world.course.codes[0], nonce="out-1").json()
    assert body["reason"] == "checked_out" and body["accepted"] is True
    assert body["session"]["title"] == "Khai mạc" and body["first_checked_in_at"]
    world.clock.set(local(8, 28))  # 28 of 30 minutes: stayed long enough
    assert leave(client, world.course.token, world.course.codes[1]).json()["reason"] == "checked_out"
    stored = rows(world, "SELECT enrolment_id, status, left_early FROM attendance ORDER BY enrolment_id")
    assert stored == [(world.course.enrolments[0], "present", 1), (world.course.enrolments[1], "present", 0)]
    # The retry of the same exit scan is answered from the log.
    again = leave(client, world.course.token, world.course.codes[0], nonce="out-1").json()
    assert again["replayed"] is True and again["reason"] == "checked_out"

    world.clock.set(local(8, 35))
    api = signed_in.get(f"/api/v1/courses/{world.course.id}/attendance").json()
    statuses = {p["name"]: p["attendance"][str(world.course.sessions[0])]["status"] for p in api["participants"]}
    assert statuses["Nguyễn Thị Hương"] == "left_early" and statuses["Trần Văn Nam"] == "present"
    csv = signed_in.get(f"/courses/{world.course.id}/exports/attendance.csv").text
    assert "left_early" in csv
    assert signed_in.get(f"/courses/{world.course.id}/exports/attendance.xlsx").status_code == 200
    page = signed_in.get(f"/courses/{world.course.id}/attendance").text
    assert "1 left early" in page
    world.clock.set(local(8, 29))  # the opening still on the big screen
    live = signed_in.get(f"/courses/{world.course.id}/live.json").json()
    assert live["session"]["title"] == "Khai mạc" and live["counts"]["left_early"] == 1
    assert live["counts"]["present"] == 1 and live["counts"]["not_arrived"] == 2
    person = signed_in.get(f"/courses/{world.course.id}/people/{world.course.enrolments[0]}").text
    assert "left early" in person
    badge = client.get(f"/b/{world.course.codes[0]}", headers={"Accept-Language": "en"}).text
    assert "Left early at" in badge


def test_departure_before_any_check_in_and_twice(client, world):
    exits_on(world)
    world.clock.set(local(8, 5))
    assert leave(client, world.course.token, world.course.codes[2]).json()["reason"] == "not_checked_in"
    scan(client, world.course.token, world.course.codes[2])
    world.clock.set(local(8, 20))
    assert leave(client, world.course.token, world.course.codes[2]).json()["reason"] == "checked_out"
    second = leave(client, world.course.other_token, world.course.codes[2]).json()
    assert second["reason"] == "already_checked_out" and second["accepted"] is False
    assert rows(world, "SELECT reason, accepted FROM scans ORDER BY id") == [
        ("not_checked_in", 0), ("checked_in", 1), ("checked_out", 1), ("already_checked_out", 0)]
    # A check-in scan after leaving: the check-in that counts stays (no second check-in).
    assert scan(client, world.course.token, world.course.codes[2]).json()["reason"] == "already_checked_in"


def test_undo_of_a_departure_puts_the_person_back(client, world):
    exits_on(world)
    world.clock.set(local(8, 2))
    scan(client, world.course.token, world.course.codes[0])
    world.clock.set(local(8, 5))
    out = leave(client, world.course.token, world.course.codes[0]).json()
    assert rows(world, "SELECT left_early FROM attendance") == [(1,)]
    undo = client.post(f"/api/v1/scans/{out['scan_id']}/undo", headers=bearer(world.course.token))
    assert undo.status_code == 200
    assert rows(world, "SELECT status, checked_out_at, left_early FROM attendance") == [("present", None, 0)]
    assert leave(client, world.course.token, world.course.codes[0]).json()["reason"] == "checked_out"


def test_leaving_between_sessions_ends_the_one_the_person_was_in(client, world):
    exits_on(world, pct=50)
    world.clock.set(local(8, 0))
    scan(client, world.course.token, world.course.codes[0])
    world.clock.set(local(8, 35))  # the opening is over, the first topic's door is open
    body = leave(client, world.course.token, world.course.codes[0]).json()
    assert body["reason"] == "checked_out" and body["session"]["title"] == "Khai mạc"
    assert rows(world, "SELECT left_early FROM attendance") == [(0,)]


def test_a_session_can_ask_for_exit_scans_on_its_own(client, world):
    conn = world.conn()
    with transaction(conn):
        completion.set_session_rule(conn, SessionRule(world.course.sessions[0], exit_scans=True, min_present_pct=90))
    conn.close()
    world.clock.set(local(8, 0))
    scan(client, world.course.token, world.course.codes[0])
    world.clock.set(local(8, 20))
    assert leave(client, world.course.token, world.course.codes[0]).json()["reason"] == "checked_out"
    assert rows(world, "SELECT left_early FROM attendance") == [(1,)]
    world.clock.set(local(8, 45))
    scan(client, world.course.token, world.course.codes[0])
    assert leave(client, world.course.token, world.course.codes[0]).json()["reason"] == "exit_scans_off"


@pytest.mark.parametrize("direction", ["sideways", 1, None])
def test_bad_direction_is_refused(client, world, direction):
    body = {"code": world.course.codes[0], "direction": direction}
    if direction is None:
        body["direction"] = ""
    answer = client.post("/api/v1/scans", json=body, headers=bearer(world.course.token))
    assert answer.status_code == 422 and answer.json()["error"]["field"] == "direction"
    assert rows(world, "SELECT COUNT(*) FROM scans") == [(0,)]


def test_organiser_sets_the_rule_and_bad_values_are_refused(signed_in, world):
    url = f"/courses/{world.course.id}/completion"
    page = signed_in.get(url)
    assert page.status_code == 200 and "Ask for exit scans" in page.text
    token = csrf(signed_in, url)
    bad = signed_in.post(url, data={"csrf": token, "min_present_pct": "150", "storage_limit_mb": "500"})
    assert bad.status_code == 422 and "0 to 100" in bad.text
    bad = signed_in.post(url, data={"csrf": token, "min_present_pct": "75", "min_sessions": "9",
                                    "storage_limit_mb": "500"})
    assert bad.status_code == 422 and "from 1 to 3" in bad.text
    sid = world.course.sessions[1]
    ok = signed_in.post(url, data={"csrf": token, "exit_scans": "1", "min_present_pct": "80", "min_sessions": "2",
                                   "late_counts": "1", "storage_limit_mb": "500", f"exit_{sid}": "0",
                                   f"speaker_{sid}": "TS. Lê Văn A"}, follow_redirects=False)
    assert ok.status_code == 303
    assert rows(world, "SELECT exit_scans, min_present_pct, min_sessions, late_counts FROM completion_rules") == [
        (1, 80, 2, 1)]
    assert rows(world, "SELECT session_id, exit_scans, speaker FROM session_rules") == [(sid, 0, "TS. Lê Văn A")]
