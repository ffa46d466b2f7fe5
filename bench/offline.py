"""Offline scanning figures: the offline copy of a 5,000-cadre course (download time on loopback and size),
the offline answer's time on screen, and how long a queue of 500 scans takes to sync.

A real server (`checkin serve`, its own process, as in production) on 127.0.0.1 serves a fresh database holding one course of N cadres with a
session on now. Headless Chromium runs the real scanner page (/usher): once it holds its offline copy the
browser goes offline (Playwright's set_offline), and badge codes are handed to the page the way a
decoded QR is (the scanner-gun field: the same submit path the camera's decoder calls); a MutationObserver
plus the next animation frame say when the answer was on screen. Then the network comes back and the
queue drains; the database is checked afterwards (every scan there once).

    .venv/bin/python bench/offline.py [--participants 5000] [--answers 50] [--queue 500] [--runs 5]

Targets: copy < 2 s on loopback and < 1 MB compressed; offline answer < 100 ms after the decode;
500 queued scans synced in < 10 s.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from checkin.settings import Settings  # noqa: E402
from checkin.store import courses, devices, people  # noqa: E402
from checkin.store.courses import NewCourse, NewSession  # noqa: E402
from checkin.store.db import open_sync, transaction  # noqa: E402
from checkin.store.people import PersonDetails  # noqa: E402

ZONE = ZoneInfo("Asia/Ho_Chi_Minh")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
]
SURNAMES = ["Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Vũ", "Võ", "Đặng", "Bùi", "Đỗ"]
MIDDLE = ["Thị", "Văn", "Minh", "Thu", "Đức", "Ngọc", "Quang", "Thanh"]
GIVEN = ["Hương", "Nam", "Đức", "Trang", "Lan", "Anh", "Hà", "Huy", "Châu", "Tùng", "Linh", "Phúc", "Thư", "Bảo"]
UNITS = [f"Đoàn Thanh niên {kind} {i}" for kind in ("Sở", "Cục", "Ban quản lý", "Tổng công ty") for i in range(1, 21)]
POSITIONS = ["Bí thư", "Phó Bí thư", "Ủy viên Ban Chấp hành"]

ANSWER = """
async (code) => {
  const name = document.getElementById("result-name");
  const wedge = document.getElementById("wedge");
  const painted = new Promise((resolve) => {
    const observer = new MutationObserver(() => {
      observer.disconnect();
      requestAnimationFrame(() => resolve(performance.now()));
    });
    observer.observe(name, { childList: true, characterData: true, subtree: true });
  });
  const t0 = performance.now();
  wedge.value = code;
  document.getElementById("wedge-form").requestSubmit();
  return (await painted) - t0;
}
"""


def seed(folder: Path, count: int) -> tuple[Settings, str, list[str], int]:
    settings = Settings(data_dir=folder, secret_key="bench-offline", port=8000)
    now = datetime.now(timezone.utc)
    conn = open_sync(settings.db_path)
    with transaction(conn):
        course_id = courses.insert_course(conn, NewCourse(
            title="Lớp bồi dưỡng cán bộ Đoàn chủ chốt", course_date=now.astimezone(ZONE).date(), time_zone=ZONE.key,
        ), now)
        courses.insert_session(conn, course_id, NewSession("Chuyên đề 1", now - timedelta(minutes=5),
                                                           now + timedelta(hours=3), late_after_min=240))
        codes = []
        for i in range(count):
            name = f"{SURNAMES[i % 12]} {MIDDLE[i // 12 % 8]} {GIVEN[i // 96 % 14]} {i}"
            pid = people.insert_participant(conn, PersonDetails(name, UNITS[i % len(UNITS)], POSITIONS[i % 3]), now)
            enrolment_id = people.enrol(conn, course_id, pid, now)
            codes.append(people.get_enrolment_badge_holder(conn, enrolment_id).code)
        device_id, token = devices.insert_device(conn, course_id, "Cổng A – bench", now + timedelta(hours=6), now)
    conn.close()
    return settings, token, codes, device_id


def serve(settings: Settings) -> tuple[str, subprocess.Popen]:
    """`checkin serve` on a free port, in its own process: a server in this process would share the
    interpreter lock with Playwright's driver and add tens of milliseconds to every browser request."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = dict(os.environ, CHECKIN_DB=str(settings.db_path), CHECKIN_DATA_DIR=str(settings.data_dir),
               CHECKIN_SECRET_KEY=settings.secret_key, CHECKIN_HOST="127.0.0.1", CHECKIN_PORT=str(port))
    checkin = Path(sys.executable).with_name("checkin")
    command = [str(checkin), "serve"] if checkin.exists() else [sys.executable, "-m", "checkin", "serve"]
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            urllib.request.urlopen(base + "/static/css/app.css", timeout=1).read()
            return base, process
        except OSError:
            if process.poll() is not None:
                raise RuntimeError("checkin serve stopped: " + process.stderr.read().decode(errors="replace"))
            time.sleep(0.1)
    process.terminate()
    raise RuntimeError("checkin serve did not start")


def fetch_copy(base: str, token: str, since: str | None = None) -> tuple[float, int, int, dict]:
    """(seconds, compressed bytes, json bytes, copy): request to parsed JSON, as a phone does it."""
    url = base + "/api/v1/offline" + (f"?since={since}" if since else "")
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}", "Accept-Encoding": "gzip"})
    started = time.perf_counter()
    with urllib.request.urlopen(request) as response:
        body = response.read()
        encoded = response.headers.get("Content-Encoding") == "gzip"
    raw = gzip.decompress(body) if encoded else body
    copy = json.loads(raw)
    return time.perf_counter() - started, len(body), len(raw), copy


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--participants", type=int, default=5000)
    parser.add_argument("--answers", type=int, default=50)
    parser.add_argument("--queue", type=int, default=500)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--chromium", default=os.environ.get("CHECKIN_CHROMIUM", "/usr/bin/chromium"))
    args = parser.parse_args(argv)
    if not args.answers <= args.queue <= args.participants:
        parser.error("need --answers <= --queue <= --participants (the answered scans are part of the queue)")

    folder = Path(tempfile.mkdtemp(prefix="bench-offline-"))
    try:
        print(f"seeding {args.participants} cadres...", file=sys.stderr)
        settings, token, codes, device_id = seed(folder, args.participants)
        base, process = serve(settings)
        try:
            return run(args, base, token, codes, device_id, settings)
        finally:
            process.terminate()
            process.wait(timeout=10)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def run(args, base: str, token: str, codes: list[str], device_id: int, settings: Settings) -> int:
    from playwright.sync_api import sync_playwright

    ok = True
    results = [fetch_copy(base, token) for _ in range(args.runs)]
    seconds = [r[0] for r in results]
    _, size, raw, copy = results[0]
    delta_seconds, delta_size, _, _ = fetch_copy(base, token, copy["cursor"])
    print(f"offline copy, {len(copy['badges'])} badges: median {statistics.median(seconds) * 1000:.0f} ms, "
          f"max {max(seconds) * 1000:.0f} ms over {args.runs} downloads on loopback (target < 2 s); "
          f"{size / 1e6:.2f} MB gzip, {raw / 1e6:.2f} MB JSON (target < 1 MB compressed); "
          f"empty delta {delta_size} bytes in {delta_seconds * 1000:.0f} ms")
    ok &= max(seconds) < 2 and size < 1_000_000

    answers_codes = codes[:args.answers]
    queue_codes = codes[args.answers:args.queue]
    with sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=args.chromium, headless=True, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(locale="en-GB")
            page = context.new_page()
            errors = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(f"{base}/usher/pair#t={token}")
            page.wait_for_url(f"{base}/usher")
            started = time.perf_counter()
            page.wait_for_selector("#scanner[data-offline-copy=ready]", timeout=60_000)
            first_copy = time.perf_counter() - started
            page.wait_for_selector("#scanner[data-offline-page=ready]", timeout=60_000)
            print(f"scanner page: offline copy fetched and stored in IndexedDB {first_copy * 1000:.0f} ms after "
                  "the page opened")

            context.set_offline(True)
            page.wait_for_selector("#net[data-net=offline]")
            times = [page.evaluate(ANSWER, code) for code in answers_codes]
            reasons = page.evaluate("window.checkinScanner.answers.map((a) => a.offline ? a.reason : 'online')")
            print(f"offline answer on screen after the decode, {len(times)} badges: median "
                  f"{statistics.median(times):.1f} ms, p95 {pct(times, 0.95):.1f} ms, max {max(times):.1f} ms "
                  f"(target < 100 ms); answers: {sorted(set(reasons))}")
            ok &= pct(times, 0.95) < 100 and set(reasons) == {"checked_in"}

            for code in queue_codes:
                page.evaluate("(code) => { const w = document.getElementById('wedge'); w.value = code;"
                              " document.getElementById('wedge-form').requestSubmit(); }", code)
            total = len(answers_codes) + len(queue_codes)
            page.wait_for_selector(f"#net[data-queued='{total}']", timeout=120_000)
            started = time.perf_counter()
            context.set_offline(False)
            page.wait_for_selector("#net[data-queued='0']", timeout=120_000)
            synced = time.perf_counter() - started
            print(f"sync: {total} queued scans sent and recorded in {synced:.2f} s "
                  f"({synced / total * 1000:.1f} ms per scan; target: 500 in < 10 s)")
            ok &= synced < 10 * total / 500
            if errors:
                print("page errors:", errors)
                ok = False
        finally:
            browser.close()

    conn = open_sync(settings.db_path)
    try:
        (count, nonces, accepted) = conn.execute(
            "SELECT COUNT(*), COUNT(DISTINCT nonce), SUM(accepted) FROM scans WHERE device_id = ? AND method = 'sync'",
            (device_id,),
        ).fetchone()
        (present,) = conn.execute("SELECT COUNT(*) FROM attendance").fetchone()
    finally:
        conn.close()
    print(f"database: {count} sync scans, {nonces} distinct nonces, {accepted} accepted, {present} attendance rows "
          f"(expected {total} of each)")
    ok &= count == nonces == accepted == present == total
    print("command: .venv/bin/python bench/offline.py " + " ".join(sys.argv[1:]))
    print("all targets met" if ok else "TARGET MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
