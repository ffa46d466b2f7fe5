"""Load on POST /api/v1/scans, against the floor of a bare Starlette + SQLite endpoint.

Starts `checkin serve` as a separate process on a course of 20,000 cadres (`checkin demo`), drives it at
concurrency 32 with distinct badges (first check-ins), the same badges again (duplicates) and unknown
codes, then drives bench/floor_app.py (one lookup, one insert, one commit) the same way.

    .venv/bin/python bench/scan_load.py [--participants 20000] [--requests 5000] [--concurrency 32]
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
import httpload  # noqa: E402

BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until_up(url: str, process: subprocess.Popen, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"server exited with {process.returncode}")
        try:
            urllib.request.urlopen(url, timeout=1).read()
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"server did not answer at {url}")


def seed(db: Path, participants: int) -> str:
    started = time.perf_counter()
    done = subprocess.run([BIN / "checkin", "demo", "--participants", str(participants), "--db", str(db)],
                          capture_output=True, text=True, check=True, env={**os.environ, "CHECKIN_DATA_DIR": str(db.parent)})
    token = next(line.split()[-1] for line in done.stderr.splitlines() if "API device token" in line)
    print(f"seeded {participants} cadres in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    return token


def free_badges(db: Path, session_id: int, n: int) -> list[str]:
    conn = sqlite3.connect(db)
    rows = conn.execute(
        "SELECT b.code FROM badges b WHERE b.revoked_at IS NULL AND b.enrolment_id NOT IN"
        " (SELECT enrolment_id FROM attendance WHERE session_id = ?) ORDER BY b.code LIMIT ?", (session_id, n)
    ).fetchall()
    conn.close()
    return [r[0] for r in rows]


def bodies(codes: list[str]) -> list[bytes]:
    return [json.dumps({"code": c, "nonce": secrets.token_hex(8), "method": "camera"}).encode() for c in codes]


def serve(args: list[str], env: dict, port: int) -> subprocess.Popen:
    process = subprocess.Popen(args, env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return process


def merge(name: str, parts: list[httpload.Result]) -> httpload.Result:
    """Rounds of one phase as one result: requests and time add up, latencies pool."""
    merged = httpload.Result(name, 0, 0.0, [], {}, [])
    for part in parts:
        merged.requests += part.requests
        merged.seconds += part.seconds
        merged.latencies += part.latencies
        merged.bodies += part.bodies
        for status, n in part.statuses.items():
            merged.statuses[status] = merged.statuses.get(status, 0) + n
    return merged


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--participants", type=int, default=20_000)
    parser.add_argument("--requests", type=int, default=5_000, help="requests per phase")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=5,
                        help="phases run in this many interleaved rounds, ours and the floor's in turn, so that "
                             "other load on the machine falls on both alike")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="checkin-bench-"))
    db = workdir / "bench.sqlite3"
    token = seed(db, args.participants)
    auth = {"Authorization": f"Bearer {token}"}

    # The floor gets its own copy of the database: two processes writing one file would keep
    # invalidating each other's page cache between the interleaved rounds.
    floor_db = workdir / "floor.sqlite3"
    source = sqlite3.connect(db)
    with sqlite3.connect(floor_db) as target:
        source.backup(target)
    source.close()
    port, floor_port = free_port(), free_port()
    server = serve([str(BIN / "checkin"), "serve", "--db", str(db), "--port", str(port)],
                   {"CHECKIN_DATA_DIR": str(workdir)}, port)
    floor = serve([str(BIN / "python"), "-m", "uvicorn", "floor_app:app", "--app-dir", str(HERE), "--port",
                   str(floor_port), "--no-access-log", "--log-level", "warning"], {"FLOOR_DB": str(floor_db)}, floor_port)
    phases: dict[str, list[httpload.Result]] = {k: [] for k in ("first", "dupes", "unknown", "floor", "floor_unknown")}
    try:
        wait_until_up(f"http://127.0.0.1:{port}/healthz", server)
        _wait_floor(floor_port, floor)
        request = urllib.request.Request(f"http://127.0.0.1:{port}/api/v1/device", headers=auth)
        session_id = json.loads(urllib.request.urlopen(request).read())["current_session_id"]
        codes = free_badges(db, session_id, args.requests)
        unknown = [secrets.token_urlsafe(16) for _ in range(args.requests)]
        httpload.run("warm-up", "127.0.0.1", port, "/api/v1/scans", bodies(unknown[:300]), args.concurrency, auth)
        httpload.run("floor warm-up", "127.0.0.1", floor_port, "/scan", bodies(unknown[:300]), args.concurrency)
        size = -(-len(codes) // args.rounds)
        for r in range(args.rounds):
            chunk, strangers = codes[r * size:(r + 1) * size], unknown[r * size:(r + 1) * size]
            if not chunk:
                break
            scans = ("127.0.0.1", port, "/api/v1/scans")
            phases["first"].append(httpload.run("first check-ins", *scans, bodies(chunk), args.concurrency, auth))
            phases["floor"].append(httpload.run("floor", "127.0.0.1", floor_port, "/scan", bodies(chunk), args.concurrency))
            phases["dupes"].append(httpload.run("duplicates", *scans, bodies(chunk), args.concurrency, auth))
            phases["unknown"].append(httpload.run("unknown codes", *scans, bodies(strangers), args.concurrency, auth))
            phases["floor_unknown"].append(
                httpload.run("floor", "127.0.0.1", floor_port, "/scan", bodies(strangers), args.concurrency))
    finally:
        stop(server)
        stop(floor)

    first, dupes, unk = merge("first check-ins", phases["first"]), merge("duplicates", phases["dupes"]), merge(
        "unknown codes", phases["unknown"])
    floor_first, floor_unknown = merge("floor (known codes)", phases["floor"]), merge(
        "floor (unknown codes)", phases["floor_unknown"])
    reasons = {}
    for key, result in (("first", first), ("dupes", dupes), ("unknown", unk)):
        reasons[key] = {}
        for answer in result.bodies:
            reasons[key][answer.get("reason")] = reasons[key].get(answer.get("reason"), 0) + 1

    print(f"\nPOST /api/v1/scans, {args.participants} cadres, concurrency {args.concurrency}, {os.cpu_count()} cores, "
          f"{args.rounds} interleaved rounds")
    for result in (first, dupes, unk, floor_first, floor_unknown):
        print("  " + result.line())
    print(f"  answers: first {reasons['first']}, duplicates {reasons['dupes']}, unknown {reasons['unknown']}")
    ratios = {
        "first check-ins": first.rps / floor_first.rps,
        "duplicates": dupes.rps / floor_first.rps,
        "unknown codes": unk.rps / floor_unknown.rps,
    }
    ok = True
    for name, ratio in ratios.items():
        print(f"  ratio to floor, {name:<16} {ratio:5.2f}  (target >= 0.60)")
    for result in (first, dupes):
        ok &= result.rps >= 0.6 * floor_first.rps
    for result in (first, dupes, unk):
        ok &= result.pct(99) < 50 and result.errors == 0
    accepted = reasons["first"].get("checked_in", 0) + reasons["first"].get("checked_in_late", 0)
    ok &= accepted == len(codes) and reasons["dupes"].get("already_checked_in", 0) == len(codes)
    print(f"  p99 target < 50 ms, no errors, every first scan accepted and every repeat a duplicate: "
          f"{'MET' if ok else 'NOT MET'}")
    print(f"\nReproduce: .venv/bin/python bench/scan_load.py --participants {args.participants} "
          f"--requests {args.requests} --concurrency {args.concurrency} --rounds {args.rounds}")
    return 0 if ok else 1


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(5)


def _wait_floor(port: int, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"floor server exited: {process.stderr.read().decode()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise SystemExit("floor server did not start")


if __name__ == "__main__":
    raise SystemExit(main())
