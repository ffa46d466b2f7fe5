"""The door under many dashboards: scan latency with and without 2,000 event-stream connections.

Starts `checkin serve` as a separate process on a fresh demo course (`checkin demo`), signs in as the demo
organiser and sends first check-ins through the API at a steady rate, twice: first with no stream open, then
with N event-stream connections open (held by a separate listener process, so that reading 2,000 streams does
not slow the client that times the door). For each phase it reports the door's scan latency (request sent to
answer received); for the second, the delivery latency of every event at every connection (scan answered to
event received) and whether every event arrived exactly once.

    .venv/bin/python bench/streams.py [--participants 5000] [--streams 2000] [--rate 20] [--seconds 20]

Targets (issue 10): with the streams open, scan p95 < 50 ms; every event delivered once. Exit status 1 when a
target is missed.
"""

from __future__ import annotations

import argparse
import array
import asyncio
import json
import os
import re
import resource
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx2 as httpx

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
from live import cpu_seconds, fresh_codes, free_port, make_course, rss_mb  # noqa: E402

SCAN_P95_MS = 50.0
SCAN_ID = re.compile(rb'\ndata: \{"kind":"checkin","scan_id":(\d+),')


def raise_file_limit() -> None:
    """2,000 sockets need more than the usual soft limit of 1,024 file handles (in both processes)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def cpu_pressure() -> float:
    """The share of the last 10 s in which some runnable task waited for a CPU (Linux PSI), in %."""
    try:
        with open("/proc/pressure/cpu") as fh:
            return float(fh.readline().split()[1].split("=")[1])
    except (OSError, IndexError, ValueError):
        return float("nan")


def percentile(values: list[float], p: float) -> float:
    return values[min(len(values) - 1, int(p / 100 * len(values)))] if values else float("nan")


# --- the listener process: N streams, arrival times written to a file at the end --------------------------

class StreamReader(asyncio.Protocol):
    """One event-stream connection on a bare protocol: cheap enough for 2,000 in one process. It keeps each
    read's arrival time and the scan ids in it; checking and matching them waits for the end of the run."""

    def __init__(self, request: bytes, started: list[int], ready: asyncio.Event) -> None:
        self.request, self.started, self.ready = request, started, ready
        self.head = b""
        self.tail = b""  # the start of an event cut by a read
        self.reads: list[tuple[float, list[bytes]]] = []
        self.closed = False

    def connection_made(self, transport) -> None:
        transport.write(self.request)

    def data_received(self, data: bytes) -> None:
        now = time.monotonic()
        if self.head is not None:  # the answer's head, up to the retry line
            self.head += data
            if b"retry:" not in self.head:
                return
            if b" 200 " not in self.head.split(b"\r\n", 1)[0]:
                raise SystemExit(self.head[:200].decode(errors="replace"))
            data, self.head = self.head.split(b"retry:", 1)[1], None
            self.started[0] += 1
            if self.started[0] == self.started[1]:
                self.ready.set()
        data = self.tail + data
        cut = data.rfind(b"\n\n") + 2
        self.tail = data[cut:]
        ids = SCAN_ID.findall(data, 0, cut)
        if ids:
            self.reads.append((now, ids))

    def connection_lost(self, exc) -> None:
        self.closed = True


async def listen(port: int, path: str, cookie: str, streams: int, out: Path) -> None:
    loop = asyncio.get_running_loop()
    request = (f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: {cookie}\r\n"
               "Accept: text/event-stream\r\n\r\n").encode()
    started, ready = [0, streams], asyncio.Event()
    readers = []
    for index in range(streams):
        transport, reader = await loop.create_connection(lambda: StreamReader(request, started, ready),
                                                         "127.0.0.1", port)
        readers.append((transport, reader))
        if index % 100 == 99:
            await asyncio.sleep(0.05)  # a browser's reconnects are spread out too
    await asyncio.wait_for(ready.wait(), 120)
    print("ready", flush=True)
    await loop.run_in_executor(None, sys.stdin.readline)  # the main process says when to stop
    for transport, _ in readers:
        transport.close()
    arrivals, duplicates, out_of_order = array.array("d"), 0, 0
    for _, reader in readers:
        seen: set[int] = set()
        last = 0
        for at, ids in reader.reads:
            for raw in ids:
                scan_id = int(raw)
                if scan_id in seen:
                    duplicates += 1
                    continue
                out_of_order += scan_id < last  # scan ids grow with event ids in this run
                last = scan_id
                seen.add(scan_id)
                arrivals.append(scan_id)
                arrivals.append(at)
    with open(out, "wb") as fh:
        arrivals.tofile(fh)
    print(json.dumps({"duplicates": duplicates, "out_of_order": out_of_order,
                      "closed_early": sum(1 for _, r in readers if r.closed)}), flush=True)


# --- the door: scans at a steady rate, timed from request to answer --------------------------------------

async def scan_steadily(base: str, token: str, codes: list[str], rate: float,
                        seconds: float) -> tuple[list[float], dict[int, float]]:
    """First check-ins at `rate` per second (open loop) from a few phones' worth of connections."""
    latencies: list[float] = []
    answered: dict[int, float] = {}
    refused = 0
    limits = httpx.Limits(max_connections=8, max_keepalive_connections=8)
    async with httpx.AsyncClient(base_url=base, timeout=httpx.Timeout(60, pool=None), limits=limits,
                                 headers={"Authorization": f"Bearer {token}"}) as client:
        async def one(code: str) -> None:
            nonlocal refused
            sent = time.monotonic()
            response = await client.post("/api/v1/scans", json={"code": code, "method": "api"})
            at = time.monotonic()
            body = response.json()
            if response.status_code == 200 and body.get("accepted"):
                latencies.append((at - sent) * 1000)
                answered[body["scan_id"]] = at
            else:
                refused += 1

        await client.get("/healthz")  # open a connection before the clock starts
        tasks = []
        start = time.monotonic()
        for index in range(min(len(codes), int(rate * seconds))):
            delay = start + index / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(codes[index])))
        await asyncio.gather(*tasks)
    if refused:
        print(f"  note: {refused} scans were not accepted", file=sys.stderr)
    latencies.sort()
    return latencies, answered


def sign_in(base: str, password: str) -> str:
    with httpx.Client(base_url=base, timeout=30) as client:
        page = client.get("/login")
        csrf = page.text.split('name="csrf" value="', 1)[1].split('"', 1)[0]
        client.post("/login", data={"username": "demo", "password": password, "csrf": csrf, "next": "/"})
        return "; ".join(f"{k}={v}" for k, v in client.cookies.items())


def scan_figures(latencies: list[float]) -> dict:
    return {"scans": len(latencies), "p50_ms": percentile(latencies, 50), "p95_ms": percentile(latencies, 95),
            "p99_ms": percentile(latencies, 99), "max_ms": latencies[-1] if latencies else float("nan")}


def run(args, folder: Path) -> dict:
    started = time.monotonic()
    db, course_id, token, password = make_course(folder, args.participants)
    codes = fresh_codes(db, course_id)
    per_phase = int(args.rate * args.seconds)
    if len(codes) < 2 * per_phase:
        raise SystemExit(f"only {len(codes)} people not yet checked in; use more --participants")
    print(f"course of {args.participants} cadres ready in {time.monotonic() - started:.1f} s", file=sys.stderr)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [sys.executable, "-m", "checkin", "serve", "--db", str(db), "--port", str(port), "--data-dir", str(folder)],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, preexec_fn=raise_file_limit,
        env={**os.environ, "CHECKIN_DATA_DIR": str(folder)},
    )
    listener = None
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
        cookie = sign_in(base, password)

        cpu0, wall0 = cpu_seconds(server.pid), time.monotonic()
        quiet, _ = asyncio.run(scan_steadily(base, token, codes[:per_phase], args.rate, args.seconds))
        quiet_cpu = cpu_seconds(server.pid) - cpu0
        quiet_wall = time.monotonic() - wall0
        load_quiet, pressure_quiet = os.getloadavg()[0], cpu_pressure()

        out = folder / "arrivals.bin"
        listener = subprocess.Popen(
            [sys.executable, __file__, "--listen", str(port), f"/courses/{course_id}/events", cookie,
             str(args.streams), str(out)],
            cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, preexec_fn=raise_file_limit,
        )
        if listener.stdout.readline().strip() != "ready":
            raise SystemExit("the listener did not open its streams")
        rss_open = rss_mb(server.pid)
        print(f"{args.streams} streams open; server RSS {rss_open:.0f} MB", file=sys.stderr)
        cpu1, wall1 = cpu_seconds(server.pid), time.monotonic()
        listener_cpu0 = cpu_seconds(listener.pid)
        busy, answered = asyncio.run(scan_steadily(base, token, codes[per_phase:2 * per_phase], args.rate,
                                                   args.seconds))
        time.sleep(2)  # the last events in flight
        busy_cpu = cpu_seconds(server.pid) - cpu1
        listener_cpu = cpu_seconds(listener.pid) - listener_cpu0
        busy_wall = time.monotonic() - wall1
        load_busy, pressure_busy = os.getloadavg()[0], cpu_pressure()
        rss_peak = rss_mb(server.pid)
        listener.stdin.write("stop\n")
        listener.stdin.flush()
        report = json.loads(listener.stdout.readline())
        listener.wait(30)
        listener = None
        flat = array.array("d")
        with open(out, "rb") as fh:
            flat.frombytes(fh.read())
    finally:
        if listener is not None:
            listener.kill()
            listener.wait(10)
        server.terminate()
        server.wait(10)

    delivery = []
    for i in range(0, len(flat), 2):
        answered_at = answered.get(int(flat[i]))
        if answered_at is not None:
            # An event may overtake the HTTP answer it belongs to; that counts as zero.
            delivery.append(max(0.0, flat[i + 1] - answered_at) * 1000)
    delivery.sort()
    return {
        "without_streams": {**scan_figures(quiet), "server_cpu_s": quiet_cpu, "wall_s": quiet_wall,
                            "load_average": load_quiet, "cpu_pressure_pct": pressure_quiet},
        "with_streams": {**scan_figures(busy), "server_cpu_s": busy_cpu, "wall_s": busy_wall,
                         "load_average": load_busy, "cpu_pressure_pct": pressure_busy,
                         "listener_cpu_s": listener_cpu},
        "events": {"expected": len(answered) * args.streams, "delivered": len(delivery),
                   "missing": len(answered) * args.streams - len(delivery), "duplicates": report["duplicates"],
                   "out_of_order": report["out_of_order"],
                   "streams_closed_early": report["closed_early"],
                   "p50_ms": percentile(delivery, 50), "p95_ms": percentile(delivery, 95),
                   "p99_ms": percentile(delivery, 99), "max_ms": delivery[-1] if delivery else float("nan")},
        "server_rss_mb": {"streams_open": rss_open, "end": rss_peak},
    }


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--listen":
        _, _, port, path, cookie, streams, out = sys.argv
        try:
            import uvloop  # what the server runs on too; half the cost per read of the default loop
        except ImportError:
            asyncio.run(listen(int(port), path, cookie, int(streams), Path(out)))
        else:
            uvloop.run(listen(int(port), path, cookie, int(streams), Path(out)))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--participants", type=int, default=5000)
    parser.add_argument("--streams", type=int, default=2000)
    parser.add_argument("--rate", type=float, default=20.0, help="scans per second")
    parser.add_argument("--seconds", type=float, default=20.0, help="length of each phase")
    args = parser.parse_args()
    raise_file_limit()
    command = "bench/streams.py " + " ".join(sys.argv[1:])
    with tempfile.TemporaryDirectory(prefix="checkin-bench-") as tmp:
        result = run(args, Path(tmp))
    print(json.dumps(result, indent=2))
    quiet, busy, events = result["without_streams"], result["with_streams"], result["events"]
    print(f"door, {quiet['scans']} first check-ins at {args.rate:g}/s, no stream open:"
          f" scan p50 {quiet['p50_ms']:.0f} ms, p95 {quiet['p95_ms']:.0f} ms, p99 {quiet['p99_ms']:.0f} ms,"
          f" max {quiet['max_ms']:.0f} ms; server CPU {quiet['server_cpu_s']:.1f} s in {quiet['wall_s']:.0f} s")
    print(f"door, {busy['scans']} first check-ins at {args.rate:g}/s, {args.streams} streams open: scan p50"
          f" {busy['p50_ms']:.0f} ms, p95 {busy['p95_ms']:.0f} ms (target < {SCAN_P95_MS:g}),"
          f" p99 {busy['p99_ms']:.0f} ms, max {busy['max_ms']:.0f} ms;"
          f" server CPU {busy['server_cpu_s']:.1f} s in {busy['wall_s']:.0f} s"
          f" (the listener holding the streams: {busy['listener_cpu_s']:.1f} s)")
    print(f"events: {events['delivered']} of {events['expected']} delivered ({events['missing']} missing,"
          f" {events['duplicates']} twice, {events['out_of_order']} out of order,"
          f" {events['streams_closed_early']} streams ended early);"
          f" scan answer -> event p50 {events['p50_ms']:.0f} ms, p95 {events['p95_ms']:.0f} ms,"
          f" p99 {events['p99_ms']:.0f} ms, max {events['max_ms']:.0f} ms")
    print(f"load average {busy['load_average']:.1f} (during the first phase {quiet['load_average']:.1f});"
          f" tasks waiting for a CPU {busy['cpu_pressure_pct']:.0f} % of the time ({quiet['cpu_pressure_pct']:.0f} %);"
          f" {os.cpu_count()} CPUs")
    print(f"command: .venv/bin/python {command}".rstrip())
    ok = (busy["p95_ms"] < SCAN_P95_MS and events["missing"] == 0 and events["duplicates"] == 0
          and events["out_of_order"] == 0)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
