"""A door that survives a dead server: two instances on one PostgreSQL behind Caddy (the shipped
deploy/Caddyfile.cluster), one of them killed with SIGKILL in the middle of a scan load.

The load is what ushers' phones send: every scan carries a nonce, and a scan that got no answer (connection
error, timeout, 5xx) is sent again with the same nonce until it is answered."""

from __future__ import annotations

import secrets
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import httpx2 as httpx
import pytest

from .cluster import Cluster, seed_demo, wait_until
from .conftest import empty_postgres
from .test_cluster import auth, current_session, db_rows, free_codes

BADGES = 100
SCANS = 600  # each badge 6 times: a check-in, then repeats
CLIENTS = 8
KILL_AFTER = 150  # acknowledged scans before the kill
GIVE_UP_SECONDS = 20  # a phone keeps retrying one scan this long


@dataclass
class Sent:
    code: str
    nonce: str
    attempts: int = 0
    status: int | None = None  # the answer that was acknowledged (200), or the last one
    answer: dict | None = None
    acknowledged_at: float | None = None


def send_until_answered(client: httpx.Client, token: str, scan: Sent) -> None:
    """As the scanner does: the same body and nonce again after a connection error, a timeout or a 5xx."""
    deadline = time.monotonic() + GIVE_UP_SECONDS
    while time.monotonic() < deadline:
        scan.attempts += 1
        try:
            response = client.post("/api/v1/scans", json={"code": scan.code, "nonce": scan.nonce, "method": "camera"},
                                   headers=auth(token))
        except httpx.HTTPError:
            time.sleep(0.1)
            continue
        scan.status = response.status_code
        if response.status_code < 500:
            scan.answer = response.json()
            scan.acknowledged_at = time.monotonic()
            return
        time.sleep(0.1)


def run_load(proxy_url: str, token: str, scans: list[Sent], during=None) -> None:
    """The scans from CLIENTS phones at once, each with its own connection to the proxy; `during` runs
    beside them (the test's kill)."""
    queue = iter(scans)
    lock = threading.Lock()

    def phone() -> None:
        with httpx.Client(base_url=proxy_url, timeout=5) as client:
            while True:
                with lock:
                    scan = next(queue, None)
                if scan is None:
                    return
                send_until_answered(client, token, scan)

    with ThreadPoolExecutor(CLIENTS + 1) as pool:
        phones = [pool.submit(phone) for _ in range(CLIENTS)]
        if during:
            pool.submit(during).result()
        for done in phones:
            done.result()


def answered(scans: list[Sent]) -> int:
    return sum(s.acknowledged_at is not None for s in scans)


def stored_per_nonce(cluster: Cluster, scans: list[Sent]) -> dict[str, int]:
    wanted = {s.nonce for s in scans}
    rows = db_rows(cluster, "SELECT nonce, COUNT(*) FROM scans WHERE nonce IS NOT NULL GROUP BY nonce")
    return {nonce: count for nonce, count in rows if nonce in wanted}


def count_scans(cluster: Cluster, codes: list[str]) -> int:
    marks = ",".join("?" * len(codes))
    return db_rows(cluster, f"SELECT COUNT(*) FROM scans WHERE code IN ({marks})", *codes)[0][0]


def scans_served(instance) -> int:
    """POST /api/v1/scans lines in the instance's access log (the instances of this test log every request)."""
    return instance.log.read_text(errors="replace").count('"POST /api/v1/scans HTTP/1.1" 200')


@pytest.fixture
def behind_caddy(postgres_url, tmp_path):
    empty_postgres(postgres_url)
    cluster = Cluster(postgres_url, tmp_path)
    try:
        demo = seed_demo(cluster, participants=240)  # about half still to arrive
        a, b = cluster.start("a", CHECKIN_ACCESS_LOG="true"), cluster.start("b", CHECKIN_ACCESS_LOG="true")
        yield cluster, demo, a, b, cluster.proxy([a, b])
    finally:
        cluster.stop_all()


def test_an_instance_killed_under_load_loses_no_acknowledged_scan_and_the_door_keeps_answering(behind_caddy):
    cluster, demo, a, b, proxy = behind_caddy
    assert httpx.get(proxy.url + "/readyz").json()["status"] == "ready"
    assert httpx.get(proxy.url + "/metrics").status_code == 404, "each instance is scraped on its own port"
    codes = free_codes(cluster, current_session(b, demo.token), BADGES)
    # Each badge several times (a check-in, then repeats), every scan with its own nonce.
    scans = [Sent(code, secrets.token_hex(12)) for code in codes * (SCANS // BADGES)]
    stored_before = count_scans(cluster, codes)
    killed_at = []

    def kill_a_in_the_middle() -> None:
        wait_until(lambda: answered(scans) >= KILL_AFTER, 30, "the load did not start")
        cluster.kill(a)
        killed_at.append(time.monotonic())

    run_load(proxy.url, demo.token, scans, during=kill_a_in_the_middle)

    assert not a.alive() and b.alive()
    unanswered = [s for s in scans if s.acknowledged_at is None]
    assert not unanswered, f"{len(unanswered)} scans never answered, e.g. last status {unanswered[0].status}"
    assert all(s.status == 200 for s in scans), {s.status for s in scans}
    # Some scans were answered after the kill, and some had to be sent again because of it (in flight on a, or
    # the first sent to it afterwards: Caddy answered 502).
    assert any(s.acknowledged_at > killed_at[0] for s in scans)
    assert any(s.attempts > 1 for s in scans)
    # Every acknowledged scan is stored exactly once, however often it was sent, and nothing else is.
    assert stored_per_nonce(cluster, scans) == {s.nonce: 1 for s in scans}
    assert count_scans(cluster, codes) - stored_before == SCANS
    # One check-in per badge, the repeats said so (a retried scan answers what it first answered).
    session_id = scans[0].answer["session"]["id"]
    marks = ",".join("?" * len(codes))
    attendance = db_rows(cluster, "SELECT COUNT(*) FROM attendance a JOIN badges b ON b.enrolment_id = a.enrolment_id"
                                  f" WHERE a.session_id = ? AND b.code IN ({marks})", session_id, *codes)
    assert attendance == [(len(codes),)]
    accepted = [s.code for s in scans if s.answer["accepted"]]
    assert sorted(accepted) == sorted(codes), "exactly one accepted scan per badge"

    # The door keeps answering through b: scans sent now are answered at the first attempt.
    after = [Sent(code, secrets.token_hex(12)) for code in codes[:40]]
    run_load(proxy.url, demo.token, after)
    assert [(s.status, s.attempts) for s in after] == [(200, 1)] * len(after)
    assert all(s.answer["reason"] == "already_checked_in" for s in after)

    # Started again, a joins: Caddy's health check finds it and sends it its share of the scans.
    before = scans_served(a)
    a = cluster.restart(a, CHECKIN_ACCESS_LOG="true")
    more = iter(codes)
    with httpx.Client(base_url=proxy.url, timeout=5) as client:

        def a_serves_again() -> bool:
            scan = Sent(next(more), secrets.token_hex(12))
            send_until_answered(client, demo.token, scan)
            assert scan.status == 200
            return scans_served(a) > before

        wait_until(a_serves_again, 20, "Caddy sent nothing to the restarted instance")
