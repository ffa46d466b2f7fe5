"""Nothing acknowledged is lost on the embedded store: `checkin serve` on SQLite killed with SIGKILL at random
moments under a scan load, restarted each time. Every scan a phone was told is stored is there exactly once, and
the database file is sound (PRAGMA integrity_check).

The phones' way: every scan carries a nonce; a scan with no answer (connection refused or cut, a 5xx) is sent
again with the same nonce until it is answered."""

from __future__ import annotations

import os
import random
import re
import secrets
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx2 as httpx

from .cluster import free_port, wait_until

KILLS = 4
CLIENTS = 6
SCANS = 480


def test_sigkill_under_scan_load_loses_no_acknowledged_scan(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHECKIN_")}
    db = tmp_path / "soak.sqlite3"
    env.update(CHECKIN_DATA_DIR=str(tmp_path), CHECKIN_DB=str(db))
    demo = subprocess.run([sys.executable, "-m", "checkin", "demo", "--participants", "200", "--password",
                           "soak-demo-password"], env=env, capture_output=True, text=True, timeout=180)
    assert demo.returncode == 0, demo.stderr
    token = re.search(r"API device token:\s+(\S+)", demo.stderr).group(1)
    conn = sqlite3.connect(db)
    codes = [r[0] for r in conn.execute("SELECT code FROM badges WHERE revoked_at IS NULL")]
    conn.close()
    rng = random.Random(20261130)
    scans = [(rng.choice(codes), secrets.token_hex(8)) for _ in range(SCANS)]
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server: list[subprocess.Popen] = []

    def start() -> None:
        server.append(subprocess.Popen([sys.executable, "-m", "checkin", "serve", "--port", str(port)], env=env,
                                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        wait_until(lambda: _answers(url), 30, "the server did not come back")

    acknowledged: dict[str, dict] = {}
    lock = threading.Lock()
    done = threading.Event()

    def phone(mine: list[tuple[str, str]]) -> None:
        with httpx.Client(base_url=url, timeout=5) as client:
            for code, nonce in mine:
                deadline = time.monotonic() + 60
                while time.monotonic() < deadline:
                    try:
                        answer = client.post("/api/v1/scans", json={"code": code, "nonce": nonce, "method": "camera"},
                                             headers={"Authorization": f"Bearer {token}"})
                    except httpx.HTTPError:
                        time.sleep(0.05)
                        continue
                    if answer.status_code < 500:
                        assert answer.status_code == 200, answer.text
                        with lock:
                            acknowledged[nonce] = answer.json()
                        break
                    time.sleep(0.05)

    start()
    try:
        with ThreadPoolExecutor(CLIENTS) as pool:
            futures = [pool.submit(phone, scans[i::CLIENTS]) for i in range(CLIENTS)]
            for _ in range(KILLS):  # kill at random moments while the phones scan, then start again
                time.sleep(rng.uniform(0.3, 1.5))
                server[-1].send_signal(signal.SIGKILL)
                server[-1].wait(10)
                start()
            for future in futures:
                future.result(timeout=180)
        done.set()
    finally:
        for process in server:
            if process.poll() is None:
                process.terminate()
                process.wait(15)
    assert len(acknowledged) == SCANS
    conn = sqlite3.connect(db)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        stored = dict(conn.execute("SELECT nonce, COUNT(*) FROM scans WHERE nonce IS NOT NULL GROUP BY nonce"))
        assert all(stored.get(nonce) == 1 for nonce in acknowledged), "an acknowledged scan missing or twice"
        # What was acknowledged is what is stored: the scan id and reason the phone was told.
        rows = {n: (i, r) for n, i, r in conn.execute("SELECT nonce, id, reason FROM scans WHERE nonce IS NOT NULL")}
        assert all(rows[n] == (a["scan_id"], a["reason"]) for n, a in acknowledged.items())
        # Each badge checked in to the session at most once.
        assert conn.execute("SELECT COUNT(*) FROM (SELECT enrolment_id, session_id FROM scans WHERE accepted = 1"
                            " AND nonce IS NOT NULL GROUP BY enrolment_id, session_id HAVING COUNT(*) > 1)"
                            ).fetchone()[0] == 0
    finally:
        conn.close()
    assert oct(db.stat().st_mode & 0o777) == "0o600", "the database holds bearer secrets: owner only"


def _answers(url: str) -> bool:
    try:
        return httpx.get(url + "/healthz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False
