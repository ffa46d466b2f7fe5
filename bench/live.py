"""Live dashboards under load: 200 event-stream connections on a 5,000-cadre course, scans at 50 per second.

Starts `checkin serve` as a separate process on a fresh demo course (`checkin demo`), signs in as the demo
organiser, opens the connections, then sends first check-ins at a steady rate through the API. For every
accepted scan it measures, at every connection, the time from the scan's HTTP answer to its event
arriving; and it samples the server's resident memory throughout.

    .venv/bin/python bench/live.py [--participants 5000] [--connections 200] [--rate 50] [--seconds 20]

Across instances (issue 11): with `--postgres` (a throwaway durable PostgreSQL from scripts/pgcluster.py) or
`--database-url URL`, two `checkin serve` processes share the database; the dashboards stream from the first
and the scans go to the second, so every event travels through PostgreSQL (NOTIFY and the events read).

    .venv/bin/python bench/live.py --postgres [--connections 200] [--rate 50] [--seconds 20]

Targets (issue 6): p99 < 250 ms, server RSS < 300 MB. Exit status 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import secrets
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx2 as httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
SECRET = "bench-live-secret-key-shared-by-every-instance"
P99_MS, RSS_MB = 250.0, 300.0
EVENT = re.compile(rb'id: (\d+)\ndata: \{"kind":"checkin","scan_id":(\d+),')


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def cpu_seconds(pid: int) -> float:
    """User + system CPU time the process has used so far."""
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def make_course(folder: Path, participants: int) -> tuple[Path, int, str, str]:
    db = folder / "bench.sqlite3"
    password = "bench-password-1"
    done = subprocess.run(
        [sys.executable, "-m", "checkin", "demo", "--db", str(db), "--participants", str(participants),
         "--password", password], capture_output=True, text=True, check=True, cwd=ROOT,
        env={**os.environ, "CHECKIN_DATA_DIR": str(folder)},
    )
    course_id = int(done.stdout.split()[0])
    token = re.search(r"API device token:\s+(\S+)", done.stderr).group(1)
    return db, course_id, token, password


def make_pg_course(url: str, folder: Path, participants: int) -> tuple[dict, int, str, str, str]:
    """migrate, a demo course, a device of its own and an administrator of its own (on a database that already
    holds data the demo prints no token and keeps its account's password)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHECKIN_")}
    env.update(CHECKIN_DATABASE_URL=url, CHECKIN_SECRET_KEY=SECRET, CHECKIN_DATA_DIR=str(folder))

    def checkin(*args: str, stdin: str | None = None) -> str:
        done = subprocess.run([sys.executable, "-m", "checkin", *args], capture_output=True, text=True, cwd=ROOT,
                              env=env, input=stdin)
        if done.returncode != 0:
            raise SystemExit(f"checkin {' '.join(args)} failed: {done.stderr.strip()}")
        return done.stdout

    checkin("migrate")
    course_id = int(checkin("demo", "--participants", str(participants)).split()[0])
    token = checkin("device", "add", "--course", str(course_id), "--label", "bench/live.py").split()[0]
    username, password = f"bench-live-{secrets.token_hex(4)}", secrets.token_urlsafe(12)
    checkin("user", "add", username, "--admin", "--password-stdin", stdin=password + "\n")
    return env, course_id, token, username, password


def fresh_codes(db: Path | str, course_id: int) -> list[str]:
    """Badge codes of people not yet checked in to the session under way: each scan is a first check-in."""
    postgres = isinstance(db, str)
    if postgres:
        import psycopg

        conn = psycopg.connect(db)
    else:
        conn = sqlite3.connect(str(db))
    p = "%s" if postgres else "?"
    now = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime())
    (session_id,) = conn.execute(
        f"SELECT id FROM sessions WHERE course_id = {p} AND starts_at <= {p} ORDER BY starts_at DESC LIMIT 1",
        (course_id, now + ".999999Z"),
    ).fetchone()
    rows = conn.execute(
        "SELECT b.code FROM badges b JOIN enrolments e ON e.id = b.enrolment_id"
        f" WHERE e.course_id = {p} AND b.revoked_at IS NULL AND e.id NOT IN"
        f" (SELECT enrolment_id FROM attendance WHERE session_id = {p})",
        (course_id, session_id),
    ).fetchall()
    conn.close()
    return [r[0] for r in rows]


class Listener:
    """One event-stream connection over a raw socket (cheap enough to run 200 in one client process)."""

    def __init__(self) -> None:
        self.arrivals: dict[int, float] = {}  # scan id -> monotonic time the event arrived
        self.ready = asyncio.Event()
        self.closed = False

    async def run(self, port: int, path: str, cookie: str) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: {cookie}\r\n"
                     "Accept: text/event-stream\r\n\r\n".encode())
        await writer.drain()
        head = await reader.readuntil(b"\r\n\r\n")
        if b" 200 " not in head.split(b"\r\n", 1)[0]:
            raise RuntimeError(head.decode(errors="replace"))
        buffer = b""
        try:
            while True:
                chunk = await reader.read(65536)
                if not chunk:
                    break
                now = time.monotonic()
                buffer += chunk
                if not self.ready.is_set() and b"retry:" in buffer:
                    self.ready.set()
                last = 0
                for match in EVENT.finditer(buffer):
                    self.arrivals[int(match.group(2))] = now
                    last = match.end()
                # Keep only what may still hold the start of an event.
                cut = buffer.rfind(b"\n\n", last)
                buffer = buffer[cut + 2:] if cut >= 0 else buffer[last:]
        finally:
            self.closed = True
            writer.close()


async def scan_steadily(client: httpx.AsyncClient, token: str, codes: list[str], rate: float,
                        seconds: float) -> dict[int, float]:
    """Send first check-ins at `rate` per second (open loop); return scan id -> time its answer arrived."""
    answered: dict[int, float] = {}
    refused = 0

    async def one(code: str) -> None:
        nonlocal refused
        response = await client.post("/api/v1/scans", json={"code": code, "method": "api"},
                                     headers={"Authorization": f"Bearer {token}"})
        at = time.monotonic()
        body = response.json()
        if response.status_code == 200 and body.get("accepted"):
            answered[body["scan_id"]] = at
        else:
            refused += 1

    tasks = []
    start = time.monotonic()
    count = min(len(codes), int(rate * seconds))
    for index in range(count):
        delay = start + index / rate - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(codes[index])))
    await asyncio.gather(*tasks)
    if refused:
        print(f"  note: {refused} scans were not accepted", file=sys.stderr)
    return answered


async def measure(args, port: int, pids: list[int], course_id: int, token: str, password: str, codes: list[str],
                  username: str = "demo", scan_port: int | None = None) -> dict:
    """Dashboards on `port`; scans to `scan_port` (another instance) when given, else to the same one."""
    base = f"http://127.0.0.1:{port}"
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    async with httpx.AsyncClient(base_url=base, timeout=30, limits=limits) as client, \
            httpx.AsyncClient(base_url=f"http://127.0.0.1:{scan_port or port}", timeout=30, limits=limits) as scanner:
        page = await client.get("/login")
        csrf = page.text.split('name="csrf" value="', 1)[1].split('"', 1)[0]
        await client.post("/login", data={"username": username, "password": password, "csrf": csrf, "next": "/"})
        cookie = "; ".join(f"{k}={v}" for k, v in client.cookies.items())

        listeners = [Listener() for _ in range(args.connections)]
        tasks = [asyncio.create_task(x.run(port, f"/courses/{course_id}/events", cookie)) for x in listeners]
        await asyncio.wait_for(asyncio.gather(*(x.ready.wait() for x in listeners)), 60)
        rss = [max(rss_mb(pid) for pid in pids)]

        async def sample() -> None:
            while True:
                rss.append(max(rss_mb(pid) for pid in pids))
                await asyncio.sleep(0.5)

        sampler = asyncio.create_task(sample())
        cpu_before, wall_before = sum(cpu_seconds(pid) for pid in pids), time.monotonic()
        answered = await scan_steadily(scanner, token, codes, args.rate, args.seconds)
        # The last events in flight: wait until every dashboard has every event, or longer than the relay's
        # periodic catch-up read (5 s) would take to fill a lost notification's gap.
        deadline = time.monotonic() + 7
        while time.monotonic() < deadline and any(
                scan_id not in listener.arrivals for listener in listeners for scan_id in answered):
            await asyncio.sleep(0.25)
        cpu = sum(cpu_seconds(pid) for pid in pids) - cpu_before
        wall = time.monotonic() - wall_before
        sampler.cancel()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    latencies, missing = [], 0
    for listener in listeners:
        for scan_id, answered_at in answered.items():
            arrived = listener.arrivals.get(scan_id)
            if arrived is None:
                missing += 1
            else:
                # An event may overtake the HTTP answer it belongs to; that counts as zero.
                latencies.append(max(0.0, arrived - answered_at) * 1000)
    latencies.sort()

    def pct(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(p / 100 * len(latencies)))] if latencies else float("nan")

    return {
        "scans": len(answered), "deliveries": len(latencies), "missing": missing,
        "p50_ms": pct(50), "p95_ms": pct(95), "p99_ms": pct(99), "max_ms": latencies[-1] if latencies else 0,
        "mean_ms": statistics.fmean(latencies) if latencies else 0, "rss_mb_peak": max(rss), "rss_mb_start": rss[0],
        "server_cpu_s": cpu, "wall_s": wall, "load_average": os.getloadavg()[0],
    }


def wait_port(port: int, server: subprocess.Popen) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            if time.monotonic() > deadline or server.poll() is not None:
                raise SystemExit("the server did not start")
            time.sleep(0.1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--participants", type=int, default=5000)
    parser.add_argument("--connections", type=int, default=200)
    parser.add_argument("--rate", type=float, default=50.0, help="scans per second")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--database-url", help="PostgreSQL: two instances on this database, dashboards on one, "
                                               "scans to the other")
    parser.add_argument("--postgres", action="store_true", help="the same on a throwaway durable PostgreSQL")
    args = parser.parse_args()
    command = "bench/live.py " + " ".join(sys.argv[1:])
    postgres = bool(args.database_url or args.postgres)

    with tempfile.TemporaryDirectory(prefix="checkin-bench-") as tmp:
        folder = Path(tmp)
        started = time.monotonic()
        servers, cluster = [], None
        try:
            if postgres:
                url = args.database_url
                if not url:
                    import pgcluster

                    os.chmod(folder, 0o755)  # as root, the server runs as `postgres`
                    cluster = folder / "pg"
                    url = pgcluster.start(cluster, durable=True)
                env, course_id, token, username, password = make_pg_course(url, folder, args.participants)
                codes = fresh_codes(url, course_id)
                ports = [free_port(), free_port()]
                for i, port in enumerate(ports):
                    servers.append(subprocess.Popen(
                        [sys.executable, "-m", "checkin", "serve", "--port", str(port)], cwd=ROOT,
                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                        env={**env, "CHECKIN_INSTANCE_NAME": f"live-{'ab'[i]}"}))
            else:
                db, course_id, token, password = make_course(folder, args.participants)
                username = "demo"
                codes = fresh_codes(db, course_id)
                ports = [free_port()]
                servers.append(subprocess.Popen(
                    [sys.executable, "-m", "checkin", "serve", "--db", str(db), "--port", str(ports[0]),
                     "--data-dir", str(folder)], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                    env={**os.environ, "CHECKIN_DATA_DIR": str(folder)}))
            print(f"course of {args.participants} cadres ready in {time.monotonic() - started:.1f} s;"
                  f" {len(codes)} not yet checked in", file=sys.stderr)
            for port, server in zip(ports, servers):
                wait_port(port, server)
            result = asyncio.run(measure(args, ports[0], [s.pid for s in servers], course_id, token, password,
                                         codes, username, ports[-1]))
        finally:
            for server in servers:
                server.terminate()
            for server in servers:
                server.wait(10)
            if cluster is not None:
                pgcluster.stop(cluster)

    ok = result["p99_ms"] < P99_MS and result["rss_mb_peak"] < RSS_MB and result["missing"] == 0
    print(json.dumps(result, indent=2))
    where = ("two instances on one PostgreSQL, dashboards on the first, scans sent to the second:" if postgres
             else "one instance on SQLite:")
    print(
        f"{where} {args.connections} connections, {result['scans']} scans at {args.rate:g}/s on {args.participants}"
        f" cadres: scan answer -> event at every connection p50 {result['p50_ms']:.0f} ms, p95 {result['p95_ms']:.0f} ms,"
        f" p99 {result['p99_ms']:.0f} ms (target < {P99_MS:g}), max {result['max_ms']:.0f} ms;"
        f" {result['missing']} events missing; server RSS peak {result['rss_mb_peak']:.0f} MB (target < {RSS_MB:g});"
        f" server CPU {result['server_cpu_s']:.1f} s in {result['wall_s']:.0f} s; load average {result['load_average']:.1f}"
    )
    print(f"command: .venv/bin/python {command}".rstrip())
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
