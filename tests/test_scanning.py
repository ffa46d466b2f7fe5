"""Scans through the API against a real app and database: each answer, and what was stored."""

from __future__ import annotations

import asyncio
import time

import httpx2 as httpx
import pytest
from starlette.testclient import TestClient

from checkin.app import create_app
from checkin.clock import to_db
from checkin.store import devices, people
from checkin.store.db import transaction

from .conftest import bearer, local, rows


def scan(client, token, code, **body):
    return client.post("/api/v1/scans", json={"code": code, **body}, headers=bearer(token))


def count(world, sql, *args):
    conn = world.conn()
    try:
        return conn.execute(sql, args).fetchone()[0]
    finally:
        conn.close()


def test_first_scan_in_open_window_is_checked_in_and_stored(client, world):
    answer = scan(client, world.course.token, world.course.codes[0], nonce="a1")
    assert answer.status_code == 200
    body = answer.json()
    assert body["reason"] == "checked_in" and body["accepted"] is True
    assert body["participant"] == {"name": "Nguyễn Thị Hương", "unit": "Đoàn Thanh niên Sở Tài chính", "position": "Bí thư"}
    assert body["session"]["title"] == "Khai mạc"
    row = world.conn().execute("SELECT reason, accepted, method, device_id, nonce FROM scans WHERE id = ?",
                               (body["scan_id"],)).fetchone()
    assert tuple(row) == ("checked_in", 1, "api", world.course.device_id, "a1")
    assert count(world, "SELECT COUNT(*) FROM attendance WHERE status = 'present'") == 1


def test_second_scan_in_same_session_is_already_checked_in_with_first_time(client, world):
    first = scan(client, world.course.token, world.course.codes[0]).json()
    world.clock.advance(minutes=3)
    again = scan(client, world.course.other_token, world.course.codes[0]).json()
    assert again["reason"] == "already_checked_in" and again["accepted"] is False
    assert again["first_checked_in_at"] == first["recorded_at"]
    assert count(world, "SELECT COUNT(*) FROM scans") == 2
    assert count(world, "SELECT COUNT(*) FROM attendance") == 1


def test_scan_after_grace_is_late(client, world):
    world.clock.set(local(8, 11))
    assert scan(client, world.course.token, world.course.codes[0]).json()["reason"] == "checked_in_late"
    assert count(world, "SELECT COUNT(*) FROM attendance WHERE status = 'late'") == 1


def test_scan_before_any_window_is_no_session(client, world):
    world.clock.set(local(7, 0))
    assert scan(client, world.course.token, world.course.codes[0]).json()["reason"] == "no_session"


def test_chosen_session_not_open_yet(client, world):
    body = scan(client, world.course.token, world.course.codes[0], session_id=world.course.sessions[2]).json()
    assert body["reason"] == "session_not_open" and body["session"]["title"] == "Chuyên đề 2"
    assert count(world, "SELECT COUNT(*) FROM attendance") == 0


def test_chosen_session_that_ended_is_refused_by_default(client, world):
    world.clock.set(local(9, 0))
    body = scan(client, world.course.token, world.course.codes[0], session_id=world.course.sessions[0]).json()
    assert body["reason"] == "session_closed"


def test_course_policy_can_accept_after_the_end_as_late(client, world):
    conn = world.conn()
    conn.execute("UPDATE courses SET after_end = 'late' WHERE id = ?", (world.course.id,))
    conn.close()
    world.clock.set(local(9, 0))
    body = scan(client, world.course.token, world.course.codes[0], session_id=world.course.sessions[0]).json()
    assert body["reason"] == "checked_in_late" and body["accepted"]


def test_unknown_code_is_refused_as_data(client, world):
    answer = scan(client, world.course.token, "not-a-badge-at-all")
    assert answer.status_code == 200
    assert answer.json()["reason"] == "unknown_code" and answer.json()["participant"] is None
    assert count(world, "SELECT COUNT(*) FROM scans WHERE reason = 'unknown_code'") == 1


def test_reissued_badge_makes_old_code_revoked(client, world):
    conn = world.conn()
    with transaction(conn):
        new_code = people.issue_badge(conn, world.course.enrolments[1], world.clock())
    conn.close()
    assert scan(client, world.course.token, world.course.codes[1]).json()["reason"] == "badge_revoked"
    assert scan(client, world.course.token, new_code).json()["reason"] == "checked_in"


def test_badge_of_another_course_names_it(client, world):
    body = scan(client, world.course.token, world.other.codes[0]).json()
    assert body["reason"] == "other_course"
    assert body["other_course"] == {"title": "Lớp tập huấn khác"}


def test_badge_link_is_read_as_its_code(client, world):
    body = scan(client, world.course.token, f"https://checkin.example/b/{world.course.codes[2]}").json()
    assert body["reason"] == "checked_in" and body["participant"]["name"] == "Lê Minh Đức"


def test_retried_nonce_returns_first_answer_and_stores_nothing(client, world):
    first = scan(client, world.course.token, world.course.codes[0], nonce="retry-1").json()
    world.clock.advance(minutes=20)
    again = scan(client, world.course.token, world.course.codes[0], nonce="retry-1").json()
    assert again["replayed"] is True
    assert {k: v for k, v in again.items() if k != "replayed"} == {k: v for k, v in first.items() if k != "replayed"}
    assert count(world, "SELECT COUNT(*) FROM scans") == 1
    # Its live event (PostgreSQL numbers a check-in just after its commit, see scans.insert_checkin).
    deadline = time.monotonic() + 5
    while count(world, "SELECT COUNT(*) FROM scans WHERE event_seq IS NOT NULL") == 0 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert count(world, "SELECT COUNT(*) FROM scans WHERE event_seq IS NOT NULL") == 1


def test_same_nonce_from_another_device_is_a_different_scan(client, world):
    scan(client, world.course.token, world.course.codes[0], nonce="n")
    body = scan(client, world.course.other_token, world.course.codes[0], nonce="n").json()
    assert body["reason"] == "already_checked_in"


def test_search_check_in_uses_the_same_rule(client, world):
    found = client.get("/api/v1/participants", params={"q": "nguyen thi huong"}, headers=bearer(world.course.token))
    assert found.status_code == 200
    results = found.json()["results"]
    assert [r["name"] for r in results] == ["Nguyễn Thị Hương"]
    body = client.post("/api/v1/scans", json={"participant_id": results[0]["participant_id"], "method": "search"},
                       headers=bearer(world.course.token)).json()
    assert body["reason"] == "checked_in"
    assert count(world, "SELECT COUNT(*) FROM scans WHERE method = 'search' AND code = ?", world.course.codes[0]) == 1


def test_search_never_shows_another_course(client, world):
    found = client.get("/api/v1/participants", params={"q": "tran van"}, headers=bearer(world.course.token)).json()
    assert len(found["results"]) == 1  # the other course has the same names


def test_undo_removes_attendance_but_keeps_the_log(client, world):
    first = scan(client, world.course.token, world.course.codes[0]).json()
    undo = client.post(f"/api/v1/scans/{first['scan_id']}/undo", headers=bearer(world.course.token))
    assert undo.status_code == 200 and undo.json()["undone"] is True
    assert count(world, "SELECT COUNT(*) FROM attendance") == 0
    assert count(world, "SELECT COUNT(*) FROM scans") == 1
    assert count(world, "SELECT COUNT(*) FROM scan_undos WHERE device_id = ?", world.course.device_id) == 1
    assert scan(client, world.course.token, world.course.codes[0]).json()["reason"] == "checked_in"


@pytest.mark.parametrize(
    "case, who, advance, expected_status, expected_code",
    [
        ("twice", "same", 0, 409, "already_undone"),
        ("another phone", "other", 0, 403, "not_your_scan"),
        ("too late", "same", 10, 403, "undo_too_late"),
    ],
)
def test_undo_refusals(client, world, case, who, advance, expected_status, expected_code):
    first = scan(client, world.course.token, world.course.codes[0]).json()
    if case == "twice":
        client.post(f"/api/v1/scans/{first['scan_id']}/undo", headers=bearer(world.course.token))
    world.clock.advance(minutes=advance)
    token = world.course.token if who == "same" else world.course.other_token
    answer = client.post(f"/api/v1/scans/{first['scan_id']}/undo", headers=bearer(token))
    assert (answer.status_code, answer.json()["error"]["code"]) == (expected_status, expected_code)


def test_undo_of_a_refusal_is_refused(client, world):
    refused = scan(client, world.course.token, "nope").json()
    answer = client.post(f"/api/v1/scans/{refused['scan_id']}/undo", headers=bearer(world.course.token))
    assert (answer.status_code, answer.json()["error"]["code"]) == (409, "scan_not_accepted")


def test_offline_sync_is_decided_at_the_device_time(client, world):
    world.clock.set(local(8, 20))  # the phone synced late, but scanned at 7:55
    body = scan(client, world.course.token, world.course.codes[0], method="sync",
                scanned_at=local(7, 55).isoformat(), session_id=world.course.sessions[0]).json()
    assert body["reason"] == "checked_in"
    assert body["scanned_at"].startswith(local(7, 55).strftime("%Y-%m-%dT%H:%M"))


def test_fifty_simultaneous_scans_of_one_badge_check_in_exactly_once(world):
    # 50 devices of the course, and two app instances on the same file (two server processes' worth
    # of connections), all posting the same badge at once.
    conn = world.conn()
    with transaction(conn):
        tokens = [devices.insert_device(conn, world.course.id, f"Cổng {i}", local(23), world.clock())[1] for i in range(50)]
    conn.close()
    apps = [create_app(world.settings, clock=world.clock) for _ in range(2)]
    answers = asyncio.run(_run_with_lifespan(apps, tokens, world.course.codes[3]))
    reasons = sorted(a.json()["reason"] for a in answers)
    assert all(a.status_code == 200 for a in answers)
    assert reasons.count("checked_in") == 1
    assert reasons.count("already_checked_in") == 49
    assert count(world, "SELECT COUNT(*) FROM attendance") == 1
    assert count(world, "SELECT COUNT(*) FROM scans") == 50


async def _run_with_lifespan(apps, tokens, code):
    contexts = [app.router.lifespan_context(app) for app in apps]
    for ctx in contexts:
        await ctx.__aenter__()
    try:
        clients = [httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") for app in apps]
        try:
            return await asyncio.gather(*[
                clients[i % 2].post("/api/v1/scans", json={"code": code, "nonce": f"n{i}"}, headers=bearer(tokens[i]))
                for i in range(len(tokens))
            ])
        finally:
            for c in clients:
                await c.aclose()
    finally:
        for ctx in contexts:
            await ctx.__aexit__(None, None, None)


def test_answer_is_sent_only_after_commit(client, world):
    # A fresh connection (another process, in effect) sees the row as soon as the answer arrives.
    body = scan(client, world.course.token, world.course.codes[0]).json()
    assert count(world, "SELECT COUNT(*) FROM scans WHERE id = ?", body["scan_id"]) == 1
    assert count(world, "SELECT COUNT(*) FROM attendance") == 1


def test_offline_scan_synced_late_still_counts_first(client, world):
    # Door B (online) admits at 8:20, late; phone A had admitted the same person offline at 7:55.
    world.clock.set(local(8, 20))
    late = scan(client, world.course.other_token, world.course.codes[0], session_id=world.course.sessions[0]).json()
    assert late["reason"] == "checked_in_late"
    synced = scan(client, world.course.token, world.course.codes[0], method="sync", nonce="offline-1",
                  scanned_at=local(7, 55).isoformat(), session_id=world.course.sessions[0]).json()
    assert synced["reason"] == "checked_in"
    conn = world.conn()
    row = conn.execute("SELECT status, scan_id, checked_in_at FROM attendance").fetchall()
    assert [(r[0], r[1]) for r in row] == [("present", synced["scan_id"])]
    assert row[0][2].startswith(local(7, 55).strftime("%Y-%m-%dT%H:%M"))
    # Both admissions stay in the log; live views are told to recount.
    assert conn.execute("SELECT COUNT(*) FROM scans WHERE accepted = 1").fetchone()[0] == 2
    assert conn.execute("SELECT kind FROM events ORDER BY id DESC LIMIT 1").fetchone()[0] == "correction"


def test_scans_made_before_the_device_expired_count_when_synced_after(client, world):
    conn = world.conn()
    conn.execute("UPDATE devices SET expires_at = ? WHERE id = ?", (to_db(local(8, 0)), world.course.device_id))
    conn.close()
    world.clock.set(local(8, 5))
    body = scan(client, world.course.token, world.course.codes[0], method="sync", nonce="q1",
                scanned_at=local(7, 58).isoformat()).json()
    assert body["reason"] == "checked_in"
    live = scan(client, world.course.token, world.course.codes[1])
    assert (live.status_code, live.json()["error"]["code"]) == (401, "device_expired")


def expire_device(world, at):
    conn = world.conn()
    conn.execute("UPDATE devices SET expires_at = ? WHERE id = ?", (to_db(at), world.course.device_id))
    conn.close()


def test_an_expired_device_cannot_backdate_a_sync_scan_after_the_grace(client, world):
    expire_device(world, local(8, 0))
    world.clock.set(local(8, 45))  # 45 minutes after the expiry, the grace is 15
    answer = scan(client, world.course.token, world.course.codes[0], method="sync", nonce="late-1",
                  scanned_at=local(7, 59).isoformat())
    assert (answer.status_code, answer.json()["error"]["code"]) == (401, "device_expired")
    # Logged as a refused scan for the organiser to see; nobody counts.
    assert rows(world, "SELECT method, reason, accepted FROM scans") == [("sync", "device_expired", 0)]
    assert count(world, "SELECT COUNT(*) FROM attendance") == 0
    assert count(world, "SELECT COUNT(*) FROM events") == 0
    again = scan(client, world.course.token, world.course.codes[0], method="sync", nonce="late-1",
                 scanned_at=local(7, 59).isoformat())
    assert again.json()["error"]["code"] == "device_expired" and count(world, "SELECT COUNT(*) FROM scans") == 1


def test_a_sync_scan_inside_the_grace_counts_only_if_made_before_the_expiry(client, world):
    expire_device(world, local(8, 0))
    world.clock.set(local(8, 14))
    made_before = scan(client, world.course.token, world.course.codes[0], method="sync", nonce="g1",
                       scanned_at=local(7, 59).isoformat())
    assert made_before.json()["reason"] == "checked_in"
    made_after = scan(client, world.course.token, world.course.codes[1], method="sync", nonce="g2",
                      scanned_at=local(8, 1).isoformat())
    assert (made_after.status_code, made_after.json()["error"]["code"]) == (401, "device_expired")
    world.clock.set(local(8, 15))  # the grace is over
    too_late = scan(client, world.course.token, world.course.codes[2], method="sync", nonce="g3",
                    scanned_at=local(7, 59).isoformat())
    assert (too_late.status_code, too_late.json()["error"]["code"]) == (401, "device_expired")
    assert rows(world, "SELECT nonce, reason FROM scans ORDER BY id") == [
        ("g1", "checked_in"), ("g2", "device_expired"), ("g3", "device_expired")]


def test_the_sync_grace_is_a_setting(world):
    from dataclasses import replace

    expire_device(world, local(8, 0))
    world.clock.set(local(8, 45))
    settings = replace(world.settings, device_sync_grace_minutes=60)
    with TestClient(create_app(settings, clock=world.clock)) as client:
        answer = scan(client, world.course.token, world.course.codes[0], method="sync", nonce="s1",
                      scanned_at=local(7, 59).isoformat())
    assert answer.json()["reason"] == "checked_in"


def test_revoked_device_retrying_an_old_nonce_is_refused_and_nothing_stored(client, world):
    scan(client, world.course.token, world.course.codes[0], nonce="before")
    conn = world.conn()
    with transaction(conn):
        devices.revoke_device(conn, world.course.device_id, world.clock())
    conn.close()
    client.app.state.services.devices.clear()
    again = scan(client, world.course.token, world.course.codes[0], nonce="before")
    assert (again.status_code, again.json()["error"]["code"]) == (403, "device_revoked")
    assert count(world, "SELECT COUNT(*) FROM scans") == 1


def test_an_edited_programme_is_seen_by_the_next_scan(client, world):
    world.clock.set(local(7, 0))
    assert scan(client, world.course.token, world.course.codes[0]).json()["reason"] == "no_session"
    conn = world.conn()  # another connection, as the command line or another process would edit
    conn.execute("UPDATE courses SET open_before_min = 90 WHERE id = ?", (world.course.id,))
    conn.close()
    assert scan(client, world.course.token, world.course.codes[0]).json()["reason"] == "checked_in"
    conn = world.conn()
    conn.execute("UPDATE sessions SET title = 'Khai mạc lớp' WHERE id = ?", (world.course.sessions[0],))
    conn.close()
    again = scan(client, world.course.token, world.course.codes[1]).json()
    assert again["session"]["title"] == "Khai mạc lớp"


@pytest.mark.parametrize("store", ["postgresql"], indirect=True)  # the door's batches are PostgreSQL's
def test_a_check_in_committed_while_a_phone_scan_was_deciding_makes_that_scan_already_checked_in(client, world):
    # PostgreSQL decides a phone's scan in a batch with the scans that arrive with it (door/batch.py): it locks the
    # badges' holders, then reads their check-ins. Here another door's locked check-in of the same badge is open
    # when the phone's batch starts: the batch waits on the holder's lock, then reads the check-in that door
    # committed, and the phone's answer is already_checked_in, nothing written twice.
    import threading

    from checkin.door.scanning import ScanInput, record_scan_tx

    other = world.conn()
    other.execute("BEGIN")
    first = record_scan_tx(other, ScanInput(course_id=world.course.id, method="search", code=world.course.codes[0]),
                           world.clock())
    assert first.reason == "checked_in"
    answers = []
    phone = threading.Thread(target=lambda: answers.append(scan(client, world.course.token, world.course.codes[0],
                                                                nonce="phone-1")))
    phone.start()
    watcher = world.conn()
    deadline = time.monotonic() + 10
    while not (waiting := watcher.execute("SELECT query FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                                          " AND datname = current_database()").fetchall()):
        assert time.monotonic() < deadline, "the phone's scan never waited for the other door's check-in"
        time.sleep(0.01)
    assert waiting[0][0].startswith("SELECT b.code, b.revoked_at")  # the batch's read of the holders, locking them
    other.execute("COMMIT")
    phone.join(10)
    body = answers[0].json()
    assert answers[0].status_code == 200
    assert (body["reason"], body["accepted"]) == ("already_checked_in", False)
    assert body["first_checked_in_at"] == first.recorded_at.isoformat().replace("+00:00", "Z")
    assert count(world, "SELECT COUNT(*) FROM scans") == 2  # the other door's check-in, the phone's refusal
    assert count(world, "SELECT COUNT(*) FROM attendance WHERE scan_id = ?", first.scan_id) == 1
    assert count(world, "SELECT COUNT(*) FROM scans WHERE event_pending = 1") == 1  # the other door's, not numbered


@pytest.mark.parametrize("store", ["postgresql"], indirect=True)
def test_a_phone_scan_replaces_an_excuse_without_a_transaction_as_with_one(client, world):
    # The optimistic check-in's guard lets it replace an excuse (status excused), as the locked one does; the
    # excuse comes back when the check-in is undone.
    world.conn().execute("INSERT INTO attendance (enrolment_id, session_id, status, note, excuse, updated_at)"
                 " VALUES (?, ?, 'excused', 'ốm', 'ốm', ?)",
                 (world.course.enrolments[0], world.course.sessions[0], to_db(world.clock())))
    body = scan(client, world.course.token, world.course.codes[0], nonce="p1").json()
    assert body["reason"] == "checked_in"
    assert rows(world, "SELECT status, scan_id FROM attendance") == [("present", body["scan_id"])]
    undone = client.post(f"/api/v1/scans/{body['scan_id']}/undo", headers=bearer(world.course.token))
    assert undone.status_code == 200, undone.text
    assert rows(world, "SELECT status, scan_id, note FROM attendance") == [("excused", None, "ốm")]


def test_scans_decided_in_one_batch_answer_as_they_would_one_by_one(client, world):
    # door/batch.py decides the scans that arrive together in one transaction. In one batch here: a first scan,
    # the same badge again, another badge, an unknown code, another course's badge, and a retry of the first
    # scan's nonce. Each gets the answer it would get alone, in arrival order; the check-ins are numbered in
    # that order; the retry is left to the scan-by-scan path, which answers it from the log.
    from checkin.door import batch
    from checkin.door.scanning import ScanInput

    course, now = world.course, world.clock()

    def phone(code: str, nonce: str):
        return ScanInput(course_id=course.id, method="camera", code=code, nonce=nonce, device_id=course.device_id), now

    before = count(world, "SELECT event_seq FROM courses WHERE id = ?", course.id)
    conn = world.conn()
    with transaction(conn):
        answers = batch.decide_batch(conn, [
            phone(course.codes[0], "n1"), phone(course.codes[0], "n2"), phone(course.codes[1], "n3"),
            phone("NO-SUCH-BADGE", "n4"), phone(world.other.codes[0], "n5"), phone(course.codes[0], "n1")])
    first, again, second, unknown, other, retry = answers
    assert [a.reason for a in (first, again, second, unknown, other)] == [
        "checked_in", "already_checked_in", "checked_in", "unknown_code", "other_course"]
    assert retry is batch.ALONE
    assert again.first_checked_in_at == first.recorded_at and not again.accepted
    assert (first.event.id, second.event.id) == (before + 1, before + 2)
    assert first.as_json()["participant"]["name"] == again.as_json()["participant"]["name"]
    assert rows(world, "SELECT enrolment_id, status, scan_id FROM attendance ORDER BY enrolment_id") == [
        (course.enrolments[0], "present", first.scan_id), (course.enrolments[1], "present", second.scan_id)]
    assert rows(world, "SELECT id, reason, first_scan_id, event_seq, event_pending FROM scans ORDER BY id") == [
        (first.scan_id, "checked_in", None, before + 1, None),
        (again.scan_id, "already_checked_in", first.scan_id, None, None),
        (second.scan_id, "checked_in", None, before + 2, None),
        (unknown.scan_id, "unknown_code", None, None, None),
        (other.scan_id, "other_course", None, None, None)]
    assert count(world, "SELECT event_seq FROM courses WHERE id = ?", course.id) == before + 2
    # The retry, through the door: the first scan's answer, replayed; nothing more stored.
    replayed = scan(client, course.token, course.codes[0], nonce="n1").json()
    assert (replayed["scan_id"], replayed["reason"], replayed["replayed"]) == (first.scan_id, "checked_in", True)
    assert count(world, "SELECT COUNT(*) FROM scans") == 5
