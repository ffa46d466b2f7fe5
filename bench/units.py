"""Member units at scale (issue 12): a course of 40 units x 100 cadres.

Makes a demo course (`checkin demo`), then 40 directory units, each invited with a quota of 100, nominating and
confirming 100 cadres through the units wing's own functions (4,000 enrolments with badges); starts
`checkin serve` as a separate process and measures over HTTP:
- the organiser's nominations board and a unit's live page (and its JSON): median of --repeat requests;
- the result notice PDF of all 40 units (median of 3);
- the door: scans at --rate per second, p50/p95 of the answer time, without and then with 40 unit pages
  following their live view (each polling its live JSON every --poll seconds, as the page does every 5 s).

    .venv/bin/python bench/units.py [--units 40] [--cadres 100] [--repeat 30] [--rate 20] [--seconds 15] [--poll 5]

Targets: board and unit live page < 200 ms median, result notice < 10 s, scan p95 with the unit pages within
noise of without (reported; the exit status checks the first three).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import httpx2 as httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PAGE_MS, RESULTS_S = 200.0, 10.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_course(folder: Path, n_units: int, cadres: int) -> dict:
    from checkin.store import bodies, unit_directory, units
    from checkin.store.db import open_sync, transaction
    from checkin.store.people import PersonDetails
    from checkin.store.unit_directory import MemberUnitDetails
    from checkin.units import links, nominations

    db = folder / "bench.sqlite3"
    password = "bench-password-1"
    done = subprocess.run(
        [sys.executable, "-m", "checkin", "demo", "--db", str(db), "--participants", "1", "--password", password],
        capture_output=True, text=True, check=True, cwd=ROOT, env={**os.environ, "CHECKIN_DATA_DIR": str(folder)})
    course_id = int(done.stdout.split()[0])
    token = re.search(r"API device token:\s+(\S+)", done.stderr).group(1)
    key = secrets.token_urlsafe(32)
    path = folder / "secret_key"
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(key)
    now = datetime.now(timezone.utc)
    conn = open_sync(db)
    unit_secrets, codes = [], []
    for u in range(n_units):
        with transaction(conn):  # one unit per transaction: short writes, as the app makes them
            body = bodies.get_course_body(conn, course_id)
            entry = unit_directory.insert_member_unit(conn, body.id, MemberUnitDetails(f"Sở Ban ngành số {u + 1:02d}"), now)
            summoned = units.summon_unit(conn, course_id, entry, cadres, "", now)
            people = [PersonDetails(f"Cán bộ {u + 1:02d}-{i + 1:03d} Nguyễn", "", "Ủy viên",
                                    f"09{u:02d}{i:06d}") for i in range(cadres)]
            nominations.add_nominees_tx(conn, course_id, summoned, people, nominations.Actor(None, "bench"), now)
            nominations.confirm_tx(conn, course_id, summoned, nominations.Actor(None, "bench"), now)
            unit_secrets.append(links.live_secret(conn, key, summoned, now))
    codes = [r[0] for r in conn.execute(
        "SELECT b.code FROM badges b JOIN nominees n ON n.enrolment_id = b.enrolment_id WHERE b.revoked_at IS NULL")]
    conn.close()
    return {"db": db, "course_id": course_id, "token": token, "password": password, "secrets": unit_secrets,
            "codes": codes}


async def timed(client: httpx.AsyncClient, url: str, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        answer = await client.get(url)
        times.append((time.perf_counter() - started) * 1000)
        if answer.status_code != 200:
            raise RuntimeError(f"{url}: {answer.status_code} {answer.text[:200]}")
    return statistics.median(times)


async def scan_run(client: httpx.AsyncClient, token: str, codes: list[str], rate: float, seconds: float) -> list[float]:
    latencies: list[float] = []

    async def one(code: str) -> None:
        started = time.perf_counter()
        answer = await client.post("/api/v1/scans", json={"code": code}, headers={"Authorization": f"Bearer {token}"})
        latencies.append((time.perf_counter() - started) * 1000)
        if answer.status_code != 200:
            raise RuntimeError(answer.text[:200])

    tasks = []
    start = time.monotonic()
    for index in range(min(len(codes), int(rate * seconds))):
        delay = start + index / rate - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(codes[index])))
    await asyncio.gather(*tasks)
    return sorted(latencies)


def pct(values: list[float], p: float) -> float:
    return values[min(len(values) - 1, int(p / 100 * len(values)))] if values else float("nan")


async def measure(args, port: int, course: dict) -> dict:
    base = f"http://127.0.0.1:{port}"
    limits = httpx.Limits(max_connections=80, max_keepalive_connections=80)
    async with httpx.AsyncClient(base_url=base, timeout=60, limits=limits) as client:
        page = await client.get("/login")
        csrf = page.text.split('name="csrf" value="', 1)[1].split('"', 1)[0]
        await client.post("/login", data={"username": "demo", "password": course["password"], "csrf": csrf})
        cid = course["course_id"]
        board = await timed(client, f"/courses/{cid}/units", args.repeat)
        secret = course["secrets"][len(course["secrets"]) // 2]
        live_page = await timed(client, f"/u/{secret}/live", args.repeat)
        live_json = await timed(client, f"/u/{secret}/live.json", args.repeat)
        results = await timed(client, f"/courses/{cid}/units/results.pdf", 3) / 1000

        codes = course["codes"]
        half = len(codes) // 2
        alone = await scan_run(client, course["token"], codes[:half], args.rate, args.seconds)

        stop = asyncio.Event()
        polls = []

        async def follow(unit_secret: str, offset: float) -> None:
            await asyncio.sleep(offset)
            async with httpx.AsyncClient(base_url=base, timeout=30) as own:
                while not stop.is_set():
                    started = time.perf_counter()
                    await own.get(f"/u/{unit_secret}/live.json")
                    polls.append((time.perf_counter() - started) * 1000)
                    try:
                        await asyncio.wait_for(stop.wait(), args.poll)
                    except asyncio.TimeoutError:
                        pass

        followers = [asyncio.create_task(follow(s, i * args.poll / len(course["secrets"])))
                     for i, s in enumerate(course["secrets"])]
        await asyncio.sleep(args.poll)
        followed = await scan_run(client, course["token"], codes[half:], args.rate, args.seconds)
        stop.set()
        await asyncio.gather(*followers)
    return {
        "board_median_ms": board, "unit_live_page_median_ms": live_page, "unit_live_json_median_ms": live_json,
        "results_pdf_s": results, "scans_without": len(alone), "scan_p50_without_ms": pct(alone, 50),
        "scan_p95_without_ms": pct(alone, 95), "scans_with": len(followed), "scan_p50_with_ms": pct(followed, 50),
        "scan_p95_with_ms": pct(followed, 95), "live_polls": len(polls), "live_poll_median_ms":
        statistics.median(polls) if polls else float("nan"), "load_average": os.getloadavg()[0],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--units", type=int, default=40)
    parser.add_argument("--cadres", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--rate", type=float, default=20.0, help="scans per second")
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--poll", type=float, default=5.0, help="seconds between a unit page's polls")
    args = parser.parse_args()
    command = "bench/units.py " + " ".join(sys.argv[1:])
    with tempfile.TemporaryDirectory(prefix="checkin-bench-units-") as tmp:
        folder = Path(tmp)
        started = time.monotonic()
        course = make_course(folder, args.units, args.cadres)
        print(f"{args.units} units x {args.cadres} cadres ready in {time.monotonic() - started:.1f} s", file=sys.stderr)
        port = free_port()
        server = subprocess.Popen(
            [sys.executable, "-m", "checkin", "serve", "--db", str(course["db"]), "--port", str(port),
             "--data-dir", str(folder)], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            env={**os.environ, "CHECKIN_DATA_DIR": str(folder)})
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    with socket.create_connection(("127.0.0.1", port), timeout=1):
                        break
                except OSError:
                    if time.monotonic() > deadline or server.poll() is not None:
                        raise SystemExit("the server did not start")
                    time.sleep(0.1)
            result = asyncio.run(measure(args, port, course))
        finally:
            server.terminate()
            server.wait(10)
    print(json.dumps(result, indent=2))
    ok = (result["board_median_ms"] < PAGE_MS and result["unit_live_page_median_ms"] < PAGE_MS
          and result["results_pdf_s"] < RESULTS_S)
    print(f"{args.units} units x {args.cadres} cadres: board median {result['board_median_ms']:.0f} ms, unit live page "
          f"median {result['unit_live_page_median_ms']:.0f} ms (JSON {result['unit_live_json_median_ms']:.0f} ms; "
          f"target < {PAGE_MS:g}); result notice of every unit {result['results_pdf_s']:.2f} s (target < {RESULTS_S:g});"
          f" door scans at {args.rate:g}/s p50/p95 {result['scan_p50_without_ms']:.0f}/{result['scan_p95_without_ms']:.0f}"
          f" ms without, {result['scan_p50_with_ms']:.0f}/{result['scan_p95_with_ms']:.0f} ms with {args.units} unit"
          f" pages polling every {args.poll:g} s ({result['live_polls']} polls); load average {result['load_average']:.1f}")
    print(f"command: .venv/bin/python {command}".rstrip())
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
