"""The offline copy API and the queue reports behind the usher's offline scanning, over HTTP."""

from __future__ import annotations

import gzip
import json

import pytest

from checkin.door import offline
from checkin.store import devices, people
from checkin.store import offline as offline_store
from checkin.store.db import transaction

from .conftest import bearer, local, sign_in


def rows(world, sql: str, *args):
    conn = world.conn()
    try:
        return [dict(r) for r in conn.execute(sql, args)]
    finally:
        conn.close()


def copy_of(client, token: str, since: str | None = None):
    answer = client.get("/api/v1/offline", params={"since": since} if since else None, headers=bearer(token))
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_copy_holds_hashes_names_and_sessions_but_no_badge_code(client, world):
    answer = client.get("/api/v1/offline", headers={**bearer(world.course.token), "Accept-Encoding": "gzip"})
    assert answer.status_code == 200
    assert answer.headers["content-encoding"] == "gzip" and answer.headers["cache-control"] == "no-store"
    data = answer.json()
    assert data["full"] is True and data["course"]["id"] == world.course.id
    assert [s["id"] for s in data["sessions"]] == world.course.sessions
    assert {p[1] for p in data["people"]} >= {"Nguyễn Thị Hương", "Trần Văn Nam"}
    text = json.dumps(data, ensure_ascii=False)
    for code in world.course.codes + world.other.codes:
        assert code not in text
    salt = data["salt"]
    hashes = {b[0]: (b[1], b[2]) for b in data["badges"]}
    for code, enrolment_id in zip(world.course.codes, world.course.enrolments):
        assert hashes[offline.code_hash(salt, code)] == (enrolment_id, 0)
    assert len(hashes) == len(world.course.codes)  # this course only
    assert data["device"]["id"] == world.course.device_id and data["device"]["expires_at"]
    assert data["server_time"] == "2026-11-27T00:50:00Z"  # 07:50 in Hanoi
    assert rows(world, "SELECT copy_fetched_at FROM device_sync_states WHERE device_id = ?",
                world.course.device_id)[0]["copy_fetched_at"]


def test_another_course_gets_another_salt_and_its_own_badges(client, world):
    mine = copy_of(client, world.course.token)
    other_token = rows(world, "SELECT id FROM devices WHERE course_id = ?", world.other.id)
    assert other_token  # the other course has its devices; its copy is built from its own badges
    conn = world.conn()
    try:
        with transaction(conn):
            _, token = devices.insert_device(conn, world.other.id, "Cổng khác", local(23, 59), world.clock())
    finally:
        conn.close()
    theirs = copy_of(client, token)
    assert theirs["salt"] != mine["salt"]
    assert {b[1] for b in theirs["badges"]} == set(world.other.enrolments)
    assert not {b[1] for b in mine["badges"]} & set(world.other.enrolments)


def test_delta_brings_new_people_reissued_badges_and_check_ins_and_undos(client, world):
    first = copy_of(client, world.course.token)
    assert first["checkins"] == []
    assert copy_of(client, world.course.token, first["cursor"])["people"] == []  # nothing changed

    world.clock.set(local(7, 55))
    scan = client.post("/api/v1/scans", json={"code": world.course.codes[0], "method": "camera"},
                       headers=bearer(world.course.token)).json()
    client.post("/api/v1/scans", json={"code": world.course.codes[1], "method": "camera"},
                headers=bearer(world.course.token))
    conn = world.conn()
    try:
        with transaction(conn):
            new_code = people.issue_badge(conn, world.course.enrolments[2], world.clock())
            pid = people.insert_participant(conn, people.PersonDetails("Hoàng Văn Mới", "Đoàn Sở Mới", "Bí thư"),
                                            world.clock())
            newcomer = people.enrol(conn, world.course.id, pid, world.clock())
    finally:
        conn.close()
    delta = copy_of(client, world.course.token, first["cursor"])
    assert delta["full"] is False and delta["cursor"] != first["cursor"]
    assert {p[0] for p in delta["people"]} == {world.course.enrolments[2], newcomer}
    salt = delta["salt"]
    badges = {b[0]: b for b in delta["badges"]}
    assert badges[offline.code_hash(salt, world.course.codes[2])][2] == 1  # the old badge: revoked
    assert badges[offline.code_hash(salt, new_code)][2] == 0
    at = int(local(7, 55).timestamp())
    assert sorted(delta["checkins"]) == sorted([
        [world.course.enrolments[0], world.course.sessions[0], at],
        [world.course.enrolments[1], world.course.sessions[0], at],
    ])

    client.post(f"/api/v1/scans/{scan['scan_id']}/undo", json={}, headers=bearer(world.course.token))
    after_undo = copy_of(client, world.course.token, delta["cursor"])
    assert after_undo["checkins"] == [[world.course.enrolments[0], world.course.sessions[0], None]]
    assert after_undo["people"] == []


@pytest.mark.parametrize("since", ["garbage", "d{device}.r999999.e999999", "d{device}.r1.x2", "d{other}.r1.e0"])
def test_a_cursor_the_server_cannot_use_gets_the_whole_copy(since, client, world):
    since = since.format(device=world.course.device_id, other=world.course.device_id + 1)
    assert copy_of(client, world.course.token, since)["full"] is True


@pytest.mark.parametrize("case, status, code", [
    ("revoked", 403, "device_revoked"),
    ("expired", 401, "device_expired"),
    ("no token", 401, "device_token_missing"),
])
def test_copy_refused_to_a_phone_that_may_not_scan(case, status, code, client, world):
    conn = world.conn()
    try:
        with transaction(conn):
            if case == "revoked":
                devices.revoke_device(conn, world.course.device_id, world.clock())
    finally:
        conn.close()
    if case == "expired":
        world.clock.set(local(23, 59))
    headers = {} if case == "no token" else bearer(world.course.token)
    answer = client.get("/api/v1/offline", headers=headers)
    assert answer.status_code == status and answer.json()["error"]["code"] == code
    assert "badges" not in answer.text


def test_copy_of_five_thousand_cadres_is_under_a_megabyte_compressed(client, world):
    conn = world.conn()
    try:
        with transaction(conn):
            for i in range(5000):
                pid = people.insert_participant(conn, people.PersonDetails(
                    f"Nguyễn Thị Thu Hương {i}", f"Đoàn Thanh niên Sở Kế hoạch và Đầu tư {i % 80}", "Phó Bí thư"),
                    world.clock())
                people.enrol(conn, world.course.id, pid, world.clock())
    finally:
        conn.close()
    answer = client.get("/api/v1/offline", headers={**bearer(world.course.token), "Accept-Encoding": "gzip"})
    assert len(answer.json()["badges"]) == 5004
    raw = answer.headers.get("content-length")
    assert raw is not None and int(raw) < 1_000_000
    assert len(gzip.compress(answer.content)) > 0


def test_phone_reports_its_queue_and_the_organiser_sees_it(client, world):
    world.clock.set(local(8, 10))
    answer = client.post("/api/v1/device/status", headers=bearer(world.course.token), json={
        "queued": 3, "oldest_queued_at": "2026-11-27T01:02:00Z", "last_sync_at": "2026-11-27T00:59:00Z",
    })
    assert answer.status_code == 200
    [state] = rows(world, "SELECT * FROM device_sync_states WHERE device_id = ?", world.course.device_id)
    assert state["queued"] == 3 and state["last_sync_at"].startswith("2026-11-27T00:59:00")
    sign_in(client)
    page = client.get(f"/courses/{world.course.id}/devices")
    row = page.text.split(f'data-device-id="{world.course.device_id}"', 1)[1].split("</tr>", 1)[0]
    assert 'data-queued="3"' in row and "07:59" in row


@pytest.mark.parametrize("body, field", [
    ({}, "queued"), ({"queued": -1}, "queued"), ({"queued": 1, "last_sync_at": "yesterday"}, "last_sync_at"),
    ({"queued": 0, "overruled": [{"nonce": ""}]}, "overruled"),
])
def test_bad_queue_reports_are_refused(body, field, client, world):
    answer = client.post("/api/v1/device/status", headers=bearer(world.course.token), json=body)
    assert answer.status_code == 422 and answer.json()["error"]["field"] == field


@pytest.mark.parametrize("order", ["made first syncs first", "made first syncs last"])
def test_two_doors_admitting_one_badge_offline_count_once_and_show_as_double_admission(order, client, world):
    """Both phones admitted the badge offline. The scan made first counts, whichever syncs first; both are
    kept, and the devices page lists the double admission."""
    world.clock.set(local(8, 5))
    code, session, enrolment = world.course.codes[3], world.course.sessions[0], world.course.enrolments[3]
    made_first = {"token": world.course.other_token, "nonce": "b-1", "at": "2026-11-27T00:54:00Z"}  # Cổng B, 07:54
    made_later = {"token": world.course.token, "nonce": "a-1", "at": "2026-11-27T00:55:00Z"}  # Cổng A, 07:55
    sent = [made_first, made_later] if order == "made first syncs first" else [made_later, made_first]
    answers = [client.post("/api/v1/scans", headers=bearer(x["token"]), json={
        "code": code, "method": "sync", "nonce": x["nonce"], "scanned_at": x["at"]}).json() for x in sent]
    if order == "made first syncs first":
        assert [a["reason"] for a in answers] == ["checked_in", "already_checked_in"]
        # The later phone had admitted the badge offline: it says so in its next report.
        client.post("/api/v1/device/status", headers=bearer(world.course.token), json={
            "queued": 0, "overruled": [{"nonce": "a-1", "offline_reason": "checked_in"}]})
    else:
        assert [a["reason"] for a in answers] == ["checked_in", "checked_in"]
    assert len(rows(world, "SELECT * FROM scans WHERE enrolment_id = ?", enrolment)) == 2
    [counted] = rows(world, "SELECT * FROM attendance WHERE enrolment_id = ? AND session_id = ?", enrolment, session)
    assert counted["scan_id"] == rows(world, "SELECT id FROM scans WHERE nonce = 'b-1'")[0]["id"]

    conn = world.conn()
    try:
        [double] = offline_store.list_double_admissions(conn, world.course.id)
    finally:
        conn.close()
    assert (double.full_name, double.first_by, double.second_by) == ("Phạm Thu Trang", "Cổng B", "Cổng A")
    assert double.first_at == local(7, 54) and double.second_at == local(7, 55)
    sign_in(client)
    page = client.get(f"/courses/{world.course.id}/devices")
    section = page.text.split('id="double-admissions"', 1)[1]
    assert "Phạm Thu Trang" in section and "Cổng B · 07:54:00" in section and "Cổng A · 07:55:00" in section


def test_undoing_the_scan_that_counts_lets_the_one_it_superseded_count_again(client, world):
    """Cổng A admitted the badge online at 07:58; Cổng B had admitted it offline at 07:54 and syncs later, so its
    scan counts instead. When an organiser undoes B's (a mistake), A's admission still stands: the person is
    still checked in, from 07:58, not absent."""
    world.clock.set(local(7, 58))
    enrolment, session = world.course.enrolments[3], world.course.sessions[0]
    online = client.post("/api/v1/scans", headers=bearer(world.course.token),
                         json={"code": world.course.codes[3], "method": "camera"}).json()
    world.clock.set(local(8, 3))
    synced = client.post("/api/v1/scans", headers=bearer(world.course.other_token), json={
        "code": world.course.codes[3], "method": "sync", "nonce": "b-1", "scanned_at": "2026-11-27T00:54:00Z"}).json()
    assert synced["reason"] == "checked_in"
    [counted] = rows(world, "SELECT scan_id FROM attendance WHERE enrolment_id = ? AND session_id = ?", enrolment, session)
    assert counted["scan_id"] == synced["scan_id"]
    undone = client.post(f"/api/v1/scans/{synced['scan_id']}/undo", headers=bearer(world.course.other_token))
    assert undone.status_code == 200
    [counted] = rows(world, "SELECT status, scan_id, checked_in_at FROM attendance WHERE enrolment_id = ? AND session_id = ?",
                     enrolment, session)
    assert (counted["status"], counted["scan_id"]) == ("present", online["scan_id"])
    assert counted["checked_in_at"] == "2026-11-27T00:58:00.000000Z"
    # Once that one is undone too, nothing counts.
    client.post(f"/api/v1/scans/{online['scan_id']}/undo", headers=bearer(world.course.token))
    assert rows(world, "SELECT COUNT(*) AS n FROM attendance WHERE enrolment_id = ?", enrolment)[0]["n"] == 0


def test_undoing_a_superseded_scan_leaves_the_one_that_counts(client, world):
    world.clock.set(local(7, 58))
    enrolment = world.course.enrolments[3]
    online = client.post("/api/v1/scans", headers=bearer(world.course.token),
                         json={"code": world.course.codes[3], "method": "camera"}).json()
    synced = client.post("/api/v1/scans", headers=bearer(world.course.other_token), json={
        "code": world.course.codes[3], "method": "sync", "nonce": "b-1", "scanned_at": "2026-11-27T00:54:00Z"}).json()
    before = rows(world, "SELECT status, scan_id, checked_in_at FROM attendance WHERE enrolment_id = ?", enrolment)
    assert client.post(f"/api/v1/scans/{online['scan_id']}/undo", headers=bearer(world.course.token)).status_code == 200
    after = rows(world, "SELECT status, scan_id, checked_in_at FROM attendance WHERE enrolment_id = ?", enrolment)
    assert [tuple(r) for r in after] == [tuple(r) for r in before] and after[0]["scan_id"] == synced["scan_id"]


def test_undone_second_admission_is_no_double_admission(client, world):
    world.clock.set(local(7, 55))
    scan = client.post("/api/v1/scans", headers=bearer(world.course.token),
                       json={"code": world.course.codes[0], "method": "camera"}).json()
    client.post(f"/api/v1/scans/{scan['scan_id']}/undo", json={}, headers=bearer(world.course.token))
    client.post("/api/v1/scans", headers=bearer(world.course.other_token),
                json={"code": world.course.codes[0], "method": "camera"})
    conn = world.conn()
    try:
        assert offline_store.list_double_admissions(conn, world.course.id) == []
    finally:
        conn.close()


def test_openapi_documents_the_offline_endpoints(client):
    paths = client.get("/api/v1/openapi.json").json()["paths"]
    assert "/api/v1/offline" in paths and "/api/v1/device/status" in paths


def test_scanner_service_worker_is_served_for_the_usher_scope(client):
    answer = client.get("/usher/sw.js")
    assert answer.status_code == 200 and answer.headers["service-worker-allowed"] == "/usher"
    assert "zxing_reader.wasm" in answer.text and answer.headers["content-type"].startswith("text/javascript")
