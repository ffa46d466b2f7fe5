"""Hostile clients against a real server (`checkin serve` in its own process, on a `checkin demo` course).

1. The door while a crowd fetches badge images. The course's logo is a 4000 x 4000 px PNG, stored as servers before
   this one accepted it (an upload is now scaled down to 600 px). The door scans first check-ins at concurrency 4,
   first alone, then while `--crowd` clients keep fetching /b/CODE/badge.png, each request a badge not fetched
   before (so every request draws, none is served from the kept images) until the door is done. Printed: the
   door's p50/p95/max, the crowd's answers and latency, the server's peak memory (VmHWM).
2. Roster bombs: the report's two files (a table of texts and a sheet without <dimension>, each 240 MB unpacked)
   and two that unpack less but hold too many texts or cells, so they are refused by counting as they stream:
   parse_roster here, then uploaded to the server as the organiser (status and time of the answer).

    .venv/bin/python bench/hostile.py [--participants 5000] [--scans 1500] [--crowd 40] [--code DIR]

`--code DIR` serves the checkin package found in DIR instead (e.g. `git archive main | tar -x -C DIR`), for a
before/after comparison on the same machine.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import multiprocessing
import os
import queue
import re
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

from PIL import Image, ImageDraw

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT))
import httpload  # noqa: E402
from scan_load import bodies, free_badges, free_port, stop, wait_until_up  # noqa: E402

from tests import bombs  # noqa: E402

BIN = Path(sys.executable).parent
PASSWORD = "bench password 123"


def big_logo(side: int = 4000) -> bytes:
    image = Image.new("RGB", (side, side), "white")
    draw = ImageDraw.Draw(image)
    draw.ellipse((side // 8, side // 8, 7 * side // 8, 7 * side // 8), fill=(200, 30, 40))
    draw.rectangle((0, side // 2 - side // 20, side, side // 2 + side // 20), fill=(20, 40, 160))
    out = io.BytesIO()
    image.save(out, "PNG", optimize=True)
    return out.getvalue()


def seed(db: Path, participants: int) -> tuple[str, int]:
    done = subprocess.run([BIN / "checkin", "demo", "--participants", str(participants), "--db", str(db),
                           "--password", PASSWORD], capture_output=True, text=True, check=True,
                          env={**os.environ, "CHECKIN_DATA_DIR": str(db.parent)})
    token = next(line.split()[-1] for line in done.stderr.splitlines() if "API device token" in line)
    course_id = int(done.stdout.split()[0])
    conn = sqlite3.connect(db)
    columns = [row[1] for row in conn.execute("PRAGMA table_info(course_logos)")]
    values = {"course_id": course_id, "content_type": "image/png", "data": big_logo(),
              "updated_at": "2026-01-01T00:00:00.000000+00:00", "version": "bench"}
    names = [name for name in values if name in columns]
    with conn:
        conn.execute(f"INSERT INTO course_logos ({', '.join(names)}) VALUES ({', '.join('?' for _ in names)})",
                     [values[name] for name in names])
    conn.close()
    return token, course_id


def badge_codes(db: Path, course_id: int) -> list[str]:
    conn = sqlite3.connect(db)
    codes = [row[0] for row in conn.execute(
        "SELECT b.code FROM badges b JOIN enrolments e ON e.id = b.enrolment_id WHERE e.course_id = ?"
        " AND b.revoked_at IS NULL ORDER BY b.code", (course_id,))]
    conn.close()
    return codes


async def _get(reader, writer, host: str, path: str) -> tuple[int, bytes]:
    writer.write(f"GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
    status_line = await reader.readline()
    length = 0
    while (line := await reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.decode("latin-1").partition(":")
        if name.lower() == "content-length":
            length = int(value)
    return int(status_line.split()[1]), await reader.readexactly(length)


def crowd(port: int, codes: list[str], clients: int, stop, answers) -> None:
    """`clients` keep-alive clients fetching badge.png of codes[i], each code once, until `stop` is set; each answer
    is put on `answers` as (status, seconds, when it came). In a process of its own, so that the door's client has this one."""
    position = iter(range(len(codes)))

    async def client():
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while not stop.is_set() and (i := next(position, None)) is not None:
                started = time.perf_counter()
                status, _ = await _get(reader, writer, f"127.0.0.1:{port}", f"/b/{codes[i]}/badge.png")
                answers.put((status, time.perf_counter() - started, time.monotonic()))
                if status != 200:  # 503: its Retry-After asks for a pause
                    await asyncio.sleep(1)
        finally:
            writer.close()

    async def main():
        await asyncio.gather(*[client() for _ in range(clients)])

    asyncio.run(main())


def peak_rss_mb(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmHWM:\s+(\d+)", status).group(1)) / 1024


def door_while_crowd(args, workdir: Path) -> None:
    db = workdir / "bench.sqlite3"
    token, course_id = seed(db, args.participants)
    auth = {"Authorization": f"Bearer {token}"}
    port = free_port()
    env = {"CHECKIN_DATA_DIR": str(workdir), "CHECKIN_DB": str(db), "CHECKIN_PORT": str(port)}
    command, folder = [str(BIN / "checkin"), "serve"], None
    if args.code:  # run from that folder: `python -m` puts the current folder first on the import path
        folder = Path(args.code).resolve()
        command = [str(BIN / "python"), "-m", "checkin", "serve"]
    server = subprocess.Popen(command, env={**os.environ, **env}, cwd=folder, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        wait_until_up(f"http://127.0.0.1:{port}/healthz", server)
        request = urllib.request.Request(f"http://127.0.0.1:{port}/api/v1/device", headers=auth)
        session_id = json.loads(urllib.request.urlopen(request).read())["current_session_id"]
        codes = free_badges("sqlite", db, session_id, 2 * args.scans + 100)
        n = min(args.scans, (len(codes) - 100) // 2)  # the demo has checked some people in already
        scans = ("127.0.0.1", port, "/api/v1/scans")
        httpload.run("warm-up", *scans, bodies(codes[:100]), 4, auth)
        alone = httpload.run("door, alone", *scans, bodies(codes[100:100 + n]), 4, auth)
        rss_alone = peak_rss_mb(server.pid)

        context = multiprocessing.get_context("fork")
        stop_crowd, answers = context.Event(), context.Queue()
        fetcher = context.Process(target=crowd, args=(port, badge_codes(db, course_id), args.crowd, stop_crowd,
                                                       answers))
        fetcher.start()
        got = [answers.get(timeout=120) for _ in range(args.crowd)]  # under way: logo decoded, badges being drawn
        window = [time.monotonic()]
        busy = httpload.run(f"door, {args.crowd} fetching", *scans, bodies(codes[100 + n:100 + 2 * n]), 4, auth)
        window.append(time.monotonic())
        stop_crowd.set()
        while fetcher.is_alive() or not answers.empty():
            try:
                got.append(answers.get(timeout=1))
            except queue.Empty:
                pass
        fetcher.join()
        rss = peak_rss_mb(server.pid)
    finally:
        stop(server)
    statuses: dict[int, int] = {}
    for status, _seconds, _when in got:
        statuses[status] = statuses.get(status, 0) + 1
    latencies = sorted(seconds for _status, seconds, _when in got)
    during = sum(1 for _status, _seconds, when in got if window[0] <= when <= window[1])
    reasons: dict[str, int] = {}
    for answer in alone.bodies + busy.bodies:
        reasons[answer.get("reason")] = reasons.get(answer.get("reason"), 0) + 1
    print(f"\n1. The door while {args.crowd} clients fetch badge.png (4000 px logo, {args.participants} people, "
          f"{'code in ' + args.code if args.code else 'this checkout'})")
    for result in (alone, busy):
        print(f"  {result.name:<22} {result.requests:>5} scans  p50 {result.pct(50):6.1f} ms  p95 {result.pct(95):6.1f} ms"
              f"  max {max(result.latencies) * 1000:7.1f} ms  errors {result.errors}")
    print(f"  door answers: {reasons}")
    pct = lambda p: latencies[min(len(latencies) - 1, int(p / 100 * (len(latencies) - 1)))] * 1000  # noqa: E731
    print(f"  badge.png: {len(latencies)} answered {statuses} ({during} while the door was measured), "
          f"p50 {pct(50):.0f} ms, p95 {pct(95):.0f} ms, max {latencies[-1] * 1000:.0f} ms")
    print(f"  server peak memory (VmHWM): {rss_alone:.0f} MB after the door alone, {rss:.0f} MB after the crowd")


def roster_bombs(args, workdir: Path) -> None:
    from checkin.i18n import set_language
    from checkin.roster import RosterError, parse_roster

    set_language("en")
    files = {
        "texts, 240 MB unpacked": bombs.shared_strings_bomb(240_000_000),
        "sheet without <dimension>, 240 MB": bombs.sheet_bomb(240_000_000),
        "210,000 texts (3.6 MB unpacked)": bombs.workbook(strings=(b"<si><t>a</t></si>", 210_000)),
        "620,000 cells (12 MB unpacked)": bombs.workbook(
            sheets=[(b"<row>" + b'<c t="s"><v>0</v></c>' * 62 + b"</row>", 10_000)]),
    }
    print("\n2. Roster bombs: parse_roster in this process, then the upload over HTTP (organiser, real server)")
    for name, data in files.items():
        started = time.perf_counter()
        try:
            parse_roster(data, "bomb.xlsx")
            outcome = "ACCEPTED"
        except RosterError as exc:
            outcome = f"{exc.code}: {exc.message[:70]}..."
        print(f"  {name:<36} {len(data) / 1000:6.0f} kB  refused in {time.perf_counter() - started:5.2f} s  {outcome}")

    db = workdir / "bombs.sqlite3"
    _token, course_id = seed(db, 10)
    port = free_port()
    env = {"CHECKIN_DATA_DIR": str(workdir), "CHECKIN_DB": str(db), "CHECKIN_PORT": str(port)}
    server = subprocess.Popen([str(BIN / "checkin"), "serve"], env={**os.environ, **env}, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        import httpx2 as httpx

        wait_until_up(f"http://127.0.0.1:{port}/healthz", server)
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=600, cookies={"lang": "en"}) as client:
            token = re.search(r'name="csrf" value="([^"]+)"', client.get("/login").text).group(1)
            client.post("/login", data={"username": "demo", "password": PASSWORD, "csrf": token})
            page = client.get(f"/courses/{course_id}/import").text
            token = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
            for name, data in files.items():
                started = time.perf_counter()
                answer = client.post(f"/courses/{course_id}/import", data={"csrf": token},
                                     files={"roster": ("bomb.xlsx", data, "application/octet-stream")})
                seconds = time.perf_counter() - started
                said = "refused on the form" if 'role="alert"' in answer.text else "?"
                print(f"  upload {name:<29} HTTP {answer.status_code} in {seconds:5.2f} s  ({said})")
        rss = peak_rss_mb(server.pid)
    finally:
        stop(server)
    print(f"  server peak memory (VmHWM): {rss:.0f} MB (the parse runs in a worker process)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--participants", type=int, default=5000)
    parser.add_argument("--scans", type=int, default=1500, help="door scans per phase")
    parser.add_argument("--crowd", type=int, default=40)
    parser.add_argument("--code", help="serve the checkin package in this folder (phase 1 only)")
    parser.add_argument("--skip-bombs", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="checkin-hostile-") as folder:
        print(f"machine: {os.cpu_count()} cores, load average {' '.join(Path('/proc/loadavg').read_text().split()[:3])}")
        door_while_crowd(args, Path(folder))
        if not args.skip_bombs:
            roster_bombs(args, Path(folder))
        print(f"load average after: {' '.join(Path('/proc/loadavg').read_text().split()[:3])}")
    print("\nReproduce: .venv/bin/python bench/hostile.py " + " ".join(
        urllib.parse.quote(a) for a in sys.argv[1:]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
