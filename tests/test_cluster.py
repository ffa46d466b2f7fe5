"""Two `checkin serve` processes on one PostgreSQL database: what one process guaranteed holds across both.

Each test starts real server processes (tests/cluster.py) on the session's PostgreSQL database, seeded with
`checkin demo` (a course held today around now), and talks to them over HTTP as phones and organisers do."""

from __future__ import annotations

import json
import re
import secrets
import threading
from datetime import datetime, timedelta, timezone
from concurrent.futures import ThreadPoolExecutor

import httpx2 as httpx
import pytest

from checkin.door import scanning
from checkin.door.scanning import ScanInput
from checkin.store import courses, scans
from checkin.store.courses import NewSession
from checkin.store.db import connect, transaction

from .cluster import Cluster, seed_demo, wait_until
from .conftest import empty_postgres


@pytest.fixture(scope="module")
def two(postgres_url, tmp_path_factory):
    """One demo course and two instances for the whole module (starting them is the slow part): each test
    uses badges nobody has scanned yet, and makes its own device or session where it changes one."""
    empty_postgres(postgres_url)
    cluster = Cluster(postgres_url, tmp_path_factory.mktemp("cluster"))
    try:
        demo = seed_demo(cluster, participants=300)
        a, b = cluster.start("a"), cluster.start("b")
        yield cluster, demo, a, b
    finally:
        cluster.stop_all()


def db_rows(cluster: Cluster, sql: str, *args) -> list[tuple]:
    conn = connect(cluster.database_url)
    try:
        return [tuple(r) for r in conn.execute(sql, args)]
    finally:
        conn.close()


def current_session(instance, token: str) -> int:
    answer = httpx.get(instance.url + "/api/v1/device", headers=auth(token)).json()
    assert answer["current_session_id"], "the demo course has a session on now"
    return answer["current_session_id"]


def free_codes(cluster: Cluster, session_id: int, n: int) -> list[str]:
    """n badges of people not yet checked in to the session."""
    codes = [r[0] for r in db_rows(
        cluster,
        "SELECT b.code FROM badges b WHERE b.revoked_at IS NULL AND b.enrolment_id NOT IN"
        " (SELECT enrolment_id FROM attendance WHERE session_id = ?) ORDER BY b.code LIMIT ?", session_id, n)]
    assert len(codes) == n, "the demo course has enough people still to arrive"
    return codes


def numbered_so_far(cluster: Cluster, course_id: int) -> int:
    """The course's newest event number, once no committed check-in waits for its number (they are numbered
    just after their commit: a stream opened now must not receive an earlier test's check-in)."""
    wait_until(lambda: not db_rows(cluster, "SELECT 1 FROM scans WHERE course_id = ? AND event_pending = 1", course_id),
               15, "a check-in still waits for its event number")
    return db_rows(cluster, "SELECT event_seq FROM courses WHERE id = ?", course_id)[0][0]


def device_of(instance, token: str) -> int:
    return httpx.get(instance.url + "/api/v1/device", headers=auth(token)).json()["device"]["id"]


def auth(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def scan(instance, token: str, code: str, nonce: str | None = None) -> httpx.Response:
    body = {"code": code, "method": "camera", "nonce": nonce or secrets.token_hex(8)}
    return httpx.post(instance.url + "/api/v1/scans", json=body, headers=auth(token), timeout=30)


def metric(instance, name: str) -> float:
    """One sample of the instance's /metrics (read from 127.0.0.1, an address allowed by default)."""
    text = httpx.get(instance.url + "/metrics", timeout=10).text
    return float(next(line.split()[-1] for line in text.splitlines() if line.startswith(name + " ")))


def together(calls) -> list:
    """Run the calls at the same moment (released by one barrier), each in its own thread."""
    barrier = threading.Barrier(len(calls))

    def run(call):
        barrier.wait()
        return call()

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(run, calls))


def sign_in(cluster: Cluster, instance, password: str) -> httpx.Client:
    client = httpx.Client(base_url=instance.url, timeout=10)
    cluster.clients.append(client)
    page = client.get("/login")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    answer = client.post("/login", data={"username": "demo", "password": password, "csrf": csrf, "next": "/courses"})
    assert answer.status_code in (200, 303), answer.text
    return client


def test_fifty_concurrent_scans_of_one_badge_over_two_instances_check_in_once(two):
    cluster, demo, a, b = two
    session_id = current_session(a, demo.token)
    code = free_codes(cluster, session_id, 1)[0]
    answers = together([lambda i=i: scan((a, b)[i % 2], demo.token, code) for i in range(50)])
    assert [r.status_code for r in answers] == [200] * 50
    reasons = sorted(r.json()["reason"] for r in answers)
    accepted = [r for r in reasons if r in ("checked_in", "checked_in_late")]
    assert len(accepted) == 1 and reasons.count("already_checked_in") == 49
    enrolment = db_rows(cluster, "SELECT enrolment_id FROM badges WHERE code = ?", code)[0][0]
    assert db_rows(cluster, "SELECT COUNT(*) FROM attendance WHERE enrolment_id = ? AND session_id = ?",
                   enrolment, session_id) == [(1,)]
    assert db_rows(cluster, "SELECT COUNT(*) FROM scans WHERE code = ? AND session_id = ? AND accepted = 1",
                   code, session_id) == [(1,)]


def test_the_same_nonce_at_both_instances_is_stored_once_and_answered_alike(two):
    cluster, demo, a, b = two
    codes = free_codes(cluster, current_session(a, demo.token), 10)
    for code in codes:
        nonce = secrets.token_hex(8)
        first, second = together([lambda: scan(a, demo.token, code, nonce), lambda: scan(b, demo.token, code, nonce)])
        assert first.status_code == second.status_code == 200
        x, y = first.json(), second.json()
        assert sorted([x["replayed"], y["replayed"]]) == [False, True]
        assert {k: v for k, v in x.items() if k != "replayed"} == {k: v for k, v in y.items() if k != "replayed"}
        assert db_rows(cluster, "SELECT COUNT(*) FROM scans WHERE nonce = ?", nonce) == [(1,)]


def test_two_undos_of_one_scan_at_once_one_succeeds_the_other_is_already_undone(two):
    cluster, demo, a, b = two
    codes = free_codes(cluster, current_session(a, demo.token), 5)
    for code in codes:
        scan_id = scan(a, demo.token, code).json()["scan_id"]
        answers = together([
            lambda: httpx.post(f"{a.url}/api/v1/scans/{scan_id}/undo", headers=auth(demo.token), timeout=30),
            lambda: httpx.post(f"{b.url}/api/v1/scans/{scan_id}/undo", headers=auth(demo.token), timeout=30),
        ])
        assert sorted(r.status_code for r in answers) == [200, 409]
        refused = next(r for r in answers if r.status_code == 409)
        assert refused.json()["error"]["code"] == "already_undone"
        assert db_rows(cluster, "SELECT COUNT(*) FROM scan_undos WHERE scan_id = ?", scan_id) == [(1,)]


class Stream:
    """An organiser's event stream on one instance, read in a thread: (id, data) pairs as they arrive.

    The tests pass the last event id they saw before their scans: a stream opened without one starts at the last
    event when the server starts writing it, after its headers, and scans sent as soon as the headers arrive may
    already be numbered by then (the faster the door, the likelier)."""

    def __init__(self, client: httpx.Client, course_id: int, last_event_id: int | None = None):
        self.events: list[tuple[int, dict]] = []
        self.ready = threading.Event()
        self.stop = threading.Event()
        headers = {"Last-Event-ID": str(last_event_id)} if last_event_id is not None else {}
        self._thread = threading.Thread(target=self._read, args=(client, course_id, headers), daemon=True)
        self._thread.start()
        assert self.ready.wait(10), "the stream did not open"

    def _read(self, client, course_id, headers) -> None:
        try:
            with client.stream("GET", f"/courses/{course_id}/events", headers=headers, timeout=30) as response:
                assert response.status_code == 200
                self.ready.set()
                event_id = None
                for line in response.iter_lines():
                    if self.stop.is_set():
                        return
                    if line.startswith("id: "):
                        event_id = int(line[4:])
                    elif line.startswith("data: ") and event_id is not None:
                        self.events.append((event_id, json.loads(line[6:])))
                        event_id = None
        except httpx.HTTPError:
            if not self.stop.is_set():
                raise

    def close(self) -> None:
        """Stop reading; the stream ends at its next line (a ping at the latest)."""
        self.stop.set()
        self._thread.join(20)


def test_events_of_both_instances_reach_a_stream_on_one_in_commit_order_and_replay_on_the_other(two):
    cluster, demo, a, b = two
    codes = free_codes(cluster, current_session(a, demo.token), 40)
    start = numbered_so_far(cluster, demo.course_id)
    organiser_a, organiser_b = sign_in(cluster, a, demo.password), sign_in(cluster, b, demo.password)
    stream = Stream(organiser_a, demo.course_id, last_event_id=start)
    try:
        answers = together([lambda i=i, c=c: scan((a, b)[i % 2], demo.token, c) for i, c in enumerate(codes)])
        assert all(r.json()["accepted"] for r in answers)
        wait_until(lambda: len(stream.events) >= 40, 10, f"only {len(stream.events)} of 40 events arrived")
    finally:
        stream.close()
    ids = [event_id for event_id, _ in stream.events]
    assert ids == list(range(start + 1, start + 41)), "every event once, numbered in order, none skipped"
    assert sorted(data["scan_id"] for _, data in stream.events) == sorted(r.json()["scan_id"] for r in answers)
    # A reconnect to the other instance with Last-Event-ID replays exactly what followed.
    replay = Stream(organiser_b, demo.course_id, last_event_id=start + 25)
    try:
        wait_until(lambda: len(replay.events) >= 15, 10, "the replay did not arrive")
    finally:
        replay.close()
    assert [event_id for event_id, _ in replay.events] == list(range(start + 26, start + 41))


def test_first_check_ins_are_answered_while_their_course_is_being_numbered_and_reach_streams_in_order(two):
    """A check-in's answer does not wait for the course's event number: with the course's row held locked (as a
    long numbering or an undo would hold it), 30 first check-ins over both instances are all answered; their
    events reach the streams of both instances once the row is free, each once, numbered in order."""
    cluster, demo, a, b = two
    codes = free_codes(cluster, current_session(a, demo.token), 30)
    start = numbered_so_far(cluster, demo.course_id)
    on_a, on_b = Stream(sign_in(cluster, a, demo.password), demo.course_id, last_event_id=start), None
    holder = connect(cluster.database_url)
    try:
        on_b = Stream(sign_in(cluster, b, demo.password), demo.course_id, last_event_id=start)
        unnumbered_before = sum(metric(i, "checkin_door_batch_unnumbered_total") for i in (a, b))  # earlier tests'
        holder.execute("BEGIN")
        holder.execute("UPDATE courses SET event_seq = event_seq WHERE id = ?", (demo.course_id,))
        answers = together([lambda i=i, c=c: scan((a, b)[i % 2], demo.token, c) for i, c in enumerate(codes)])
        assert [r.status_code for r in answers] == [200] * 30
        assert all(r.json()["reason"] == "checked_in" for r in answers)
        assert db_rows(cluster, "SELECT COUNT(*) FROM scans WHERE course_id = ? AND event_pending = 1",
                       demo.course_id) == [(30,)], "committed, waiting for their numbers"
        assert on_a.events == [] and on_b.events == []
        # Each instance's /metrics says how many check-ins its door batches left to the relay to number.
        assert sum(metric(i, "checkin_door_batch_unnumbered_total") for i in (a, b)) == unnumbered_before + 30
        holder.execute("COMMIT")
        for stream in (on_a, on_b):
            wait_until(lambda: len(stream.events) >= 30, 10, f"only {len(stream.events)} of 30 events arrived")
    finally:
        if holder.in_transaction:
            holder.execute("ROLLBACK")
        holder.close()
        on_a.close()
        if on_b is not None:
            on_b.close()
    for stream in (on_a, on_b):
        assert [event_id for event_id, _ in stream.events] == list(range(start + 1, start + 31))
        assert sorted(data["scan_id"] for _, data in stream.events) == sorted(r.json()["scan_id"] for r in answers)
    # Numbered in the order they were written (scan ids), and the course's number is past them.
    numbered = db_rows(cluster, "SELECT id, event_seq FROM scans WHERE course_id = ? AND event_seq > ? ORDER BY id",
                       demo.course_id, start)
    assert [seq for _, seq in numbered] == list(range(start + 1, start + 31))
    assert numbered_so_far(cluster, demo.course_id) == start + 30


def test_a_check_in_committed_by_an_instance_that_stopped_before_numbering_it_is_numbered_by_the_sweep(two):
    """An instance that committed a check-in and stopped before numbering it: the scan's own transaction, run here
    with nobody to number it. Another instance's sweep numbers it within seconds, in its place among the rest."""
    cluster, demo, a, b = two
    session_id = current_session(a, demo.token)
    codes = free_codes(cluster, session_id, 5)
    start = numbered_so_far(cluster, demo.course_id)
    stream = Stream(sign_in(cluster, a, demo.password), demo.course_id, last_event_id=start)
    try:
        before = [scan(b, demo.token, code).json() for code in codes[:2]]
        wait_until(lambda: len(stream.events) >= 2, 10, "the first two events did not arrive")
        conn = connect(cluster.database_url)
        try:
            with transaction(conn):
                orphan = scanning.record_scan_tx(conn, ScanInput(
                    course_id=demo.course_id, method="camera", code=codes[2], session_id=session_id,
                    device_id=device_of(a, demo.token), nonce=secrets.token_hex(8),
                ), datetime.now(timezone.utc))
        finally:
            conn.close()
        assert orphan.reason == "checked_in" and orphan.event.id == scans.PENDING
        assert db_rows(cluster, "SELECT event_seq, event_pending FROM scans WHERE id = ?", orphan.scan_id) == [(None, 1)]
        wait_until(lambda: len(stream.events) >= 3, 15, "the sweep did not number the orphaned check-in")
        after = [scan(a, demo.token, code).json() for code in codes[3:]]
        wait_until(lambda: len(stream.events) >= 5, 10, f"only {len(stream.events)} of 5 events arrived")
    finally:
        stream.close()
    assert [event_id for event_id, _ in stream.events] == list(range(start + 1, start + 6))
    assert [data["scan_id"] for _, data in stream.events] == [r["scan_id"] for r in before] + [
        orphan.scan_id] + [r["scan_id"] for r in after]
    assert db_rows(cluster, "SELECT event_seq, event_pending FROM scans WHERE id = ?", orphan.scan_id) == [(start + 3, None)]


def test_an_undo_of_a_check_in_still_waiting_for_its_number_comes_after_it(two):
    """The undo takes its number in its own transaction; the check-in it undoes, committed but not numbered yet,
    is numbered first in that transaction: a stream never sees an undo before the check-in it is about."""
    cluster, demo, a, b = two
    session_id = current_session(a, demo.token)
    code = free_codes(cluster, session_id, 1)[0]
    start = numbered_so_far(cluster, demo.course_id)
    stream = Stream(sign_in(cluster, b, demo.password), demo.course_id, last_event_id=start)
    try:
        conn = connect(cluster.database_url)
        try:
            with transaction(conn):  # committed, not numbered (nobody was told)
                orphan = scanning.record_scan_tx(conn, ScanInput(
                    course_id=demo.course_id, method="camera", code=code, session_id=session_id,
                    device_id=device_of(a, demo.token), nonce=secrets.token_hex(8),
                ), datetime.now(timezone.utc))
        finally:
            conn.close()
        undone = httpx.post(f"{a.url}/api/v1/scans/{orphan.scan_id}/undo", headers=auth(demo.token), timeout=30)
        assert undone.status_code == 200, undone.text
        wait_until(lambda: len(stream.events) >= 2, 15, f"only {len(stream.events)} of 2 events arrived")
    finally:
        stream.close()
    assert [(event_id, data["kind"], data["scan_id"]) for event_id, data in stream.events] == [
        (start + 1, "checkin", orphan.scan_id), (start + 2, "undo", orphan.scan_id)]


def test_a_session_change_made_elsewhere_is_seen_by_the_next_scan_on_every_instance(two):
    cluster, demo, a, b = two
    conn = connect(cluster.database_url)
    try:  # a session of its own, open now, so that the other tests keep theirs
        with transaction(conn):
            session_id = courses.insert_session(conn, demo.course_id, NewSession(
                "Phiên thử", datetime.now(timezone.utc) - timedelta(minutes=5), datetime.now(timezone.utc) + timedelta(hours=1)))
        codes = free_codes(cluster, session_id, 4)

        def scan_for_session(instance, code):
            body = {"code": code, "session_id": session_id, "nonce": secrets.token_hex(8)}
            return httpx.post(instance.url + "/api/v1/scans", json=body, headers=auth(demo.token)).json()

        assert scan_for_session(b, codes[0])["accepted"]  # both instances' connections now hold the course's rules
        assert scan_for_session(a, codes[1])["accepted"]
        # Another process (here: plain SQL) moves the session to the past; the rules version moves with it.
        conn.execute("UPDATE sessions SET starts_at = '2000-01-01T00:00:00.000000Z',"
                     " ends_at = '2000-01-01T01:00:00.000000Z' WHERE id = ?", (session_id,))
    finally:
        conn.close()
    assert scan_for_session(b, codes[2])["reason"] == "session_closed"
    assert scan_for_session(a, codes[3])["reason"] == "session_closed"


def test_a_revoked_device_is_refused_by_every_instance_at_once(two):
    cluster, demo, a, b = two
    token = cluster.checkin("device", "add", "--label", "Cổng thử").stdout.split()[0]
    codes = free_codes(cluster, current_session(a, demo.token), 2)
    for instance in (a, b):  # both instances have the device in their token cache
        assert httpx.get(instance.url + "/api/v1/device", headers=auth(token)).status_code == 200
    device_id = db_rows(cluster, "SELECT id FROM devices ORDER BY id DESC LIMIT 1")[0][0]
    cluster.checkin("device", "revoke", str(device_id))
    for instance, code in ((a, codes[0]), (b, codes[1])):
        answer = scan(instance, token, code)
        assert answer.status_code == 403 and answer.json()["error"]["code"] == "device_revoked"

    def refused_everywhere() -> bool:
        return all(httpx.get(i.url + "/api/v1/device", headers=auth(token)).status_code == 403 for i in (a, b))

    wait_until(refused_everywhere, 1.0, "an instance still served the revoked device from its cache")


def test_walk_ins_at_two_instances_at_once_share_one_new_unit(two):
    cluster, demo, a, b = two
    clients = [sign_in(cluster, a, demo.password), sign_in(cluster, b, demo.password)]
    forms = []
    for client in clients:
        page = client.get(f"/courses/{demo.course_id}/walk-in")
        forms.append(re.search(r'name="csrf" value="([^"]+)"', page.text).group(1))

    def walk_in(i: int):
        return clients[i].post(f"/courses/{demo.course_id}/walk-in", data={
            "csrf": forms[i], "full_name": f"Người mới {i}", "unit": "Đoàn Thanh niên Sở Mới Thành Lập",
            "position": "Ủy viên", "phone": f"09120000{i:02d}",
        })

    answers = together([lambda i=i: walk_in(i) for i in range(2)])
    assert all(r.status_code in (200, 303) for r in answers), [r.text[:300] for r in answers]
    assert db_rows(cluster, "SELECT COUNT(*) FROM units WHERE name = ?", "Đoàn Thanh niên Sở Mới Thành Lập") == [(1,)]
    assert db_rows(cluster, "SELECT COUNT(*) FROM participants WHERE full_name LIKE 'Người mới %'") == [(2,)]


def test_sessions_added_at_two_instances_at_once_get_distinct_positions(two):
    cluster, demo, a, b = two
    clients = [sign_in(cluster, a, demo.password), sign_in(cluster, b, demo.password)]
    tokens = []
    for client in clients:
        page = client.get(f"/courses/{demo.course_id}/sessions")
        tokens.append(re.search(r'name="csrf" value="([^"]+)"', page.text).group(1))

    def add(i: int):
        return clients[i].post(f"/courses/{demo.course_id}/sessions", data={
            "csrf": tokens[i], "title": f"Chuyên đề bổ sung {i}", "starts": f"2{i}:00", "ends": f"2{i}:30",
        })

    answers = together([lambda i=i: add(i) for i in range(2)])
    assert all(r.status_code in (200, 303) for r in answers), [r.text[:300] for r in answers]
    positions = [r[0] for r in db_rows(cluster, "SELECT position FROM sessions WHERE course_id = ?", demo.course_id)]
    assert len(positions) == len(set(positions))


def test_a_listener_connection_killed_during_scans_loses_no_event(two):
    cluster, demo, a, b = two
    codes = free_codes(cluster, current_session(a, demo.token), 20)
    start = numbered_so_far(cluster, demo.course_id)
    stream = Stream(sign_in(cluster, a, demo.password), demo.course_id, last_event_id=start)
    try:
        for i, code in enumerate(codes):
            if i == 5:  # a's listener (and, for good measure, b's) is cut off mid-way
                killed = db_rows(cluster, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                                          " WHERE application_name = 'checkin-listener' AND datname = current_database()")
                assert killed and all(ok for (ok,) in killed)
            assert scan(b, demo.token, code).json()["accepted"]
        wait_until(lambda: len(stream.events) >= 20, 15, f"only {len(stream.events)} of 20 events arrived")
    finally:
        stream.close()
    assert [event_id for event_id, _ in stream.events] == list(range(start + 1, start + 21))
    # The listener is back: an event from b reaches a's stream without waiting for the catch-up read.
    # (This test process's database only: a parallel test process runs instances of its own on the same server.)
    wait_until(lambda: len(db_rows(cluster, "SELECT 1 FROM pg_stat_activity WHERE application_name = 'checkin-listener'"
                                            " AND datname = current_database()")) == 2,
               10, "the listeners did not reconnect")


def test_a_badge_pdf_job_started_on_one_instance_is_followed_and_downloaded_on_the_other(two):
    cluster, demo, a, b = two
    on_a, on_b = sign_in(cluster, a, demo.password), sign_in(cluster, b, demo.password)
    page = on_a.get(f"/courses/{demo.course_id}/badges")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    started = on_a.post(f"/courses/{demo.course_id}/badges/jobs", data={"csrf": csrf, "layout": "a4-8", "scope": "course"})
    assert started.status_code == 202, started.text
    status_url = started.json()["status_url"]

    def done_on_b() -> bool:
        return on_b.get(status_url).json()["state"] == "done"

    wait_until(done_on_b, 120, "the job did not finish (seen from the other instance)")
    pdf = on_b.get(status_url + "/pdf")
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF") and len(pdf.content) == int(pdf.headers["content-length"])
