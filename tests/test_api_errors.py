"""Requests that cannot be decided: a 4xx with a stable code and a message, and nothing stored."""

from __future__ import annotations

import errno
import os
import uuid

import pytest

from checkin.store import devices
from checkin.store.db import transaction

from .conftest import bearer, local
from .conftest import rows as rows_of


def counts(world):
    conn = world.conn()
    try:
        return tuple(conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in ("scans", "attendance", "events"))
    finally:
        conn.close()


@pytest.mark.parametrize(
    "case, body, status, code",
    [
        ("not json", b"{code: 1", 400, "invalid_json"),
        ("json array", b"[1, 2]", 400, "invalid_json"),
        ("binary", bytes(range(256)), 400, "invalid_json"),
        ("no code", b"{}", 422, "code_missing"),
        ("empty code", b'{"code": "   "}', 422, "code_missing"),
        ("code is a number", b'{"code": 12345}', 422, "invalid_field"),
        ("code is a list", b'{"code": ["a"]}', 422, "invalid_field"),
        ("10 kB code", ('{"code": "' + "A" * 10_000 + '"}').encode(), 422, "code_too_long"),
        ("control characters", b'{"code": "abc\\u0000\\u0007def"}', 422, "code_not_text"),
        ("session is text", b'{"code": "abc", "session_id": "one"}', 422, "invalid_field"),
        ("session is a bool", b'{"code": "abc", "session_id": true}', 422, "invalid_field"),
        ("unknown session", b'{"code": "abc", "session_id": 999}', 422, "unknown_session"),
        ("nonce too long", ('{"code": "abc", "nonce": "' + "n" * 101 + '"}').encode(), 422, "invalid_field"),
        ("bad method", b'{"code": "abc", "method": "manual"}', 422, "invalid_field"),
        ("bad device time", b'{"code": "abc", "scanned_at": "yesterday"}', 422, "invalid_field"),
        ("device time without zone", b'{"code": "abc", "scanned_at": "2026-11-27T08:00:00"}', 422, "invalid_field"),
        ("device time far ahead", b'{"code": "abc", "scanned_at": "2027-01-01T08:00:00+07:00"}', 422,
         "scanned_at_out_of_range"),
        ("participant of nobody", b'{"participant_id": 99999, "method": "search"}', 404, "participant_not_found"),
        ("body over 16 kB", ('{"code": "a", "x": "' + "x" * 20_000 + '"}').encode(), 413, "body_too_large"),
    ],
)
def test_undecidable_scan_gets_4xx_and_stores_nothing(client, world, case, body, status, code):
    before = counts(world)
    answer = client.post("/api/v1/scans", content=body, headers={**bearer(world.course.token),
                                                                  "content-type": "application/json"})
    assert answer.status_code == status, case
    error = answer.json()["error"]
    assert error["code"] == code and error["message"]
    assert counts(world) == before


def test_another_courses_participant_id_is_not_found(client, world):
    answer = client.post("/api/v1/scans", json={"participant_id": world.other.enrolments[0], "method": "search"},
                         headers=bearer(world.course.token))
    assert (answer.status_code, answer.json()["error"]["code"]) == (404, "participant_not_found")


@pytest.mark.parametrize(
    "headers, code",
    [
        ({}, "device_token_missing"),
        ({"Authorization": "Bearer "}, "device_token_missing"),
        ({"Authorization": "Basic abc"}, "device_token_missing"),
        ({"Authorization": "Bearer not-a-real-token"}, "device_token_invalid"),
        ({"Authorization": "Bearer " + "x" * 5000}, "device_token_invalid"),
    ],
)
def test_scan_without_a_valid_token_is_401_and_stores_nothing(client, world, headers, code):
    answer = client.post("/api/v1/scans", json={"code": world.course.codes[0]}, headers=headers)
    assert (answer.status_code, answer.json()["error"]["code"]) == (401, code)
    assert counts(world) == (0, 0, 0)


def test_revoked_device_is_refused_and_the_attempt_logged(client, world):
    conn = world.conn()
    with transaction(conn):
        devices.revoke_device(conn, world.course.device_id, world.clock())
    conn.close()
    answer = client.post("/api/v1/scans", json={"code": world.course.codes[0]}, headers=bearer(world.course.token))
    assert (answer.status_code, answer.json()["error"]["code"]) == (403, "device_revoked")
    conn = world.conn()
    assert [tuple(r) for r in conn.execute("SELECT reason, accepted FROM scans")] == [("device_revoked", 0)]
    assert conn.execute("SELECT COUNT(*) FROM attendance").fetchone()[0] == 0


def test_expired_device_is_refused(client, world):
    world.clock.set(local(23, 59))
    answer = client.post("/api/v1/scans", json={"code": world.course.codes[0]}, headers=bearer(world.course.token))
    assert (answer.status_code, answer.json()["error"]["code"]) == (401, "device_expired")
    search = client.get("/api/v1/participants", params={"q": "nguyen"}, headers=bearer(world.course.token))
    assert (search.status_code, search.json()["error"]["code"]) == (401, "device_expired")


@pytest.mark.parametrize("query", ["", "ng", "  n g ", "x" * 101])
def test_search_needs_three_letters(client, world, query):
    answer = client.get("/api/v1/participants", params={"q": query}, headers=bearer(world.course.token))
    assert (answer.status_code, answer.json()["error"]["code"]) == (422, "query_too_short")


def test_search_treats_like_wildcards_as_text(client, world):
    answer = client.get("/api/v1/participants", params={"q": "%%%"}, headers=bearer(world.course.token))
    assert answer.status_code == 200 and answer.json()["results"] == []


def test_unknown_api_path_is_json_404(client):
    answer = client.get("/api/v1/nothing-here")
    assert answer.status_code == 404 and answer.json()["error"]["code"] == "not_found"


def test_openapi_lists_every_endpoint_and_reason(client):
    document = client.get("/api/v1/openapi.json").json()
    assert set(document["paths"]) >= {"/api/v1/scans", "/api/v1/participants", "/api/v1/scans/{scan_id}/undo",
                                      "/api/v1/courses/{course_id}/attendance"}
    reasons = document["paths"]["/api/v1/scans"]["post"]["responses"]["200"]["content"]["application/json"]["schema"][
        "properties"]["reason"]["enum"]
    assert {"checked_in", "checked_in_late", "already_checked_in", "unknown_code", "badge_revoked", "other_course",
            "session_not_open", "no_session"} <= set(reasons)


def test_a_device_token_on_the_organisers_attendance_is_401_not_signed_in(client, world):
    answer = client.get(f"/api/v1/courses/{world.course.id}/attendance", headers={"Authorization": "Bearer x"})
    assert (answer.status_code, answer.json()["error"]["code"]) == (401, "not_signed_in")
    real = client.get(f"/api/v1/courses/{world.course.id}/attendance", headers=bearer(world.course.token))
    assert (real.status_code, real.json()["error"]["code"]) == (401, "not_signed_in")


def test_json_nested_5000_deep_is_400_invalid_json(client, world):
    body = b"[" * 5000 + b"]" * 5000
    assert len(body) <= 16 * 1024
    for path in ("/api/v1/scans", "/api/v1/device/status"):
        answer = client.post(path, content=body, headers={**bearer(world.course.token), "content-type": "application/json"})
        assert (answer.status_code, answer.json()["error"]["code"]) == (400, "invalid_json")
    nested_in_a_field = b'{"code": ' + b"[" * 5000 + b"]" * 5000 + b"}"
    answer = client.post("/api/v1/scans", content=nested_in_a_field, headers=bearer(world.course.token))
    assert (answer.status_code, answer.json()["error"]["code"]) == (400, "invalid_json")


@pytest.mark.parametrize(
    "path, body, status, code",
    [
        ("/api/v1/scans", b'{"code": "abc\\ud800def"}', 422, "code_not_text"),
        ("/api/v1/scans", b'{"code": "\\udfff"}', 422, "code_not_text"),
        ("/api/v1/scans", b'{"code": "https://x/b/\\ud800"}', 422, "code_not_text"),
        ("/api/v1/scans", b'{"code": "abc", "nonce": "n\\ud800"}', 422, "invalid_field"),
        ("/api/v1/scans", b'{"code": "abc", "scanned_at": "2026-11-27T08:00:00\\ud800"}', 422, "invalid_field"),
        ("/api/v1/scans", b'{"code": "abc", "method": "\\ud800"}', 422, "invalid_field"),
        ("/api/v1/device/status", b'{"queued": 1, "overruled": [{"nonce": "\\ud800", "offline_reason": "x"}]}', 422,
         "invalid_field"),
        ("/api/v1/device/status", b'{"queued": 1, "overruled": [{"nonce": "n", "offline_reason": "\\udc00"}]}', 422,
         "invalid_field"),
        ("/api/v1/device/status", b'{"queued": 1, "last_sync_at": "\\ud800"}', 422, "invalid_field"),
    ],
)
def test_a_lone_surrogate_is_refused_as_not_text_and_stores_nothing(client, world, path, body, status, code):
    before = counts(world)
    answer = client.post(path, content=body, headers={**bearer(world.course.token), "content-type": "application/json"})
    assert (answer.status_code, answer.json()["error"]["code"]) == (status, code)
    assert counts(world) == before


def test_a_phone_reporting_500_overruled_scans_is_heard(client, world):
    """The scanner keeps up to 500 overruled scans (UUID nonces) for its next report: about 35 kB."""
    overruled = [{"nonce": str(uuid.UUID(int=i)), "offline_reason": "checked_in_late"} for i in range(500)]
    answer = client.post("/api/v1/device/status", json={"queued": 3.0, "overruled": overruled},
                         headers=bearer(world.course.token))
    assert answer.status_code == 200 and answer.json()["recorded"] is True
    assert rows_of(world, "SELECT queued FROM device_sync_states") == [(3,)]


def test_a_method_the_address_does_not_take_is_405_with_allow(client, world):
    answer = client.delete("/api/v1/scans", headers=bearer(world.course.token))
    assert (answer.status_code, answer.json()["error"]["code"]) == (405, "method_not_allowed")
    assert answer.headers["allow"] == "POST"


def test_whole_numbers_written_as_json_floats_are_whole_numbers(client, world):
    answer = client.post("/api/v1/scans", json={"participant_id": float(world.course.enrolments[0]), "method": "search",
                                                "session_id": float(world.course.sessions[0])},
                         headers=bearer(world.course.token))
    assert answer.status_code == 200 and answer.json()["reason"] == "checked_in"
    half = client.post("/api/v1/scans", json={"participant_id": 1.5, "method": "search"}, headers=bearer(world.course.token))
    assert (half.status_code, half.json()["error"]["field"]) == (422, "participant_id")


@pytest.mark.parametrize("moment", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"])
def test_device_time_at_the_edge_of_the_calendar_is_a_422(client, world, moment):
    answer = client.post("/api/v1/scans", json={"code": "abc", "scanned_at": moment}, headers=bearer(world.course.token))
    assert (answer.status_code, answer.json()["error"]["code"]) == (422, "invalid_field")


def test_a_failed_commit_leaves_the_connection_usable(tmp_path):
    from checkin.store.db import open_sync, transaction

    conn = open_sync(tmp_path / "x.sqlite3")
    conn.execute("PRAGMA defer_foreign_keys = ON")
    with pytest.raises(Exception):
        with transaction(conn):
            conn.execute("PRAGMA defer_foreign_keys = ON")
            conn.execute("INSERT INTO enrolments (course_id, participant_id, created_at) VALUES (999, 999, 'x')")
    assert not conn.in_transaction
    with transaction(conn):
        conn.execute("SELECT 1")


def test_a_phones_scan_is_answered_like_every_other_address(client, world):
    """A paired phone's scan is answered ahead of the router (routes/scan_endpoint.py): the same JSON, content
    type and security headers as the routed answers, a Problem's status and headers, and the routed 401 and 405
    for what it does not take."""
    accepted = client.post("/api/v1/scans", json={"code": world.course.codes[0], "nonce": "n-1"},
                           headers=bearer(world.course.token))
    refused = client.post("/api/v1/scans", json={"code": "nobody"}, headers=bearer(world.course.token))
    for answer in (accepted, refused):
        assert answer.status_code == 200 and answer.headers["content-type"] == "application/json"
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert "frame-ancestors 'none'" in answer.headers["content-security-policy"]
        assert answer.headers["referrer-policy"] == "no-referrer"
    assert accepted.json()["reason"] == "checked_in" and accepted.json()["participant"]["name"]
    assert refused.json()["reason"] == "unknown_code"
    again = client.post("/api/v1/scans", json={"code": world.course.codes[0], "nonce": "n-1"},
                        headers=bearer(world.course.token))
    assert again.json() == {**accepted.json(), "replayed": True}
    wrong = client.post("/api/v1/scans", json={"code": "x"}, headers={"Authorization": "Bearer not-a-device"})
    assert (wrong.status_code, wrong.json()["error"]["code"]) == (401, "device_token_invalid")
    assert wrong.headers["x-content-type-options"] == "nosniff"
    anonymous = client.post("/api/v1/scans", json={"code": "x"})
    assert (anonymous.status_code, anonymous.json()["error"]["code"]) == (401, "device_token_missing")
    listing = client.get("/api/v1/scans", headers=bearer(world.course.token))
    assert (listing.status_code, listing.json()["error"]["code"]) == (405, "method_not_allowed")


@pytest.mark.parametrize("store", ["sqlite"], indirect=True)  # the embedded store syncs its log itself
def test_a_scan_the_disk_could_not_keep_is_503_not_stored_and_safe_to_send_again(client, world, monkeypatch):
    """The commit's sync fails (a dying disk): the phone is not told the scan is stored but 503 `not_stored` with
    Retry-After, through the phone's path and the routed one alike; sent again with its nonce once the disk
    works, the scan counts once."""
    real = os.fdatasync
    failing = {"on": True}

    def fdatasync(fd):
        if failing["on"]:
            raise OSError(errno.EIO, "Input/output error")
        real(fd)

    monkeypatch.setattr(os, "fdatasync", fdatasync)
    scan = {"code": world.course.codes[0], "nonce": "n-disk"}
    lost = client.post("/api/v1/scans", json=scan, headers=bearer(world.course.token))
    assert lost.status_code == 503 and lost.headers["retry-after"] == "5"
    assert lost.json()["error"]["code"] == "not_stored" and "send it again" in lost.json()["error"]["message"]
    failing["on"] = False
    again = client.post("/api/v1/scans", json=scan, headers=bearer(world.course.token))
    assert again.status_code == 200 and again.json()["reason"] == "checked_in"
    assert again.json()["replayed"] is True  # it had been committed: the retry finds it
    # A routed write (the phone's undo) answers the same when its sync fails; its retry finds it done.
    failing["on"] = True
    undo = client.post(f"/api/v1/scans/{again.json()['scan_id']}/undo", headers=bearer(world.course.token))
    assert (undo.status_code, undo.json()["error"]["code"], undo.headers["retry-after"]) == (503, "not_stored", "5")
    failing["on"] = False
    undo = client.post(f"/api/v1/scans/{again.json()['scan_id']}/undo", headers=bearer(world.course.token))
    assert (undo.status_code, undo.json()["error"]["code"]) == (409, "already_undone")
    conn = world.conn()
    try:
        assert conn.execute("SELECT COUNT(*) FROM scans WHERE nonce = 'n-disk'").fetchone()[0] == 1
    finally:
        conn.close()
