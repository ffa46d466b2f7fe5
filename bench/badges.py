"""Benchmark badge rendering: 1,000 badges as a4-8 PDF sheets, and one badge PNG; then over HTTP on a
1,000-person demo course: the participant's badge page, its badge PNG, and the organiser's PDF job.

Reproduce with:  .venv/bin/python bench/badges.py
"""

from __future__ import annotations

import os
import secrets
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from checkin.documents.badges import BadgeCard, badge_png, badge_sheets_pdf  # noqa: E402

PDF_SECONDS, PDF_MB, PNG_MS = 10.0, 20.0, 50.0
FAMILY = ["Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Võ", "Đặng", "Bùi", "Đỗ", "Hồ"]
MIDDLE = ["Thị", "Văn", "Ngọc", "Minh", "Thu", "Quốc", "Bảo", "Hoàng Thị Phương"]
GIVEN = ["Hương", "Đức", "Yến", "Ấn", "Khôi", "Hằng", "Dũng", "Châu", "Quỳnh", "Lan"]
UNITS = [
    "Đoàn Sở Tư pháp",
    "Chi đoàn Văn phòng Thành ủy",
    "Đoàn Thanh niên Ban Quản lý các Khu chế xuất và Khu công nghiệp thành phố Hải Phòng",
    "Đoàn Sở Y tế",
]


def make_cards(n: int) -> list[BadgeCard]:
    # Fresh random codes, as in production: no QR is rendered twice, so caches do not flatter the figures.
    return [
        BadgeCard(
            code=secrets.token_urlsafe(16),
            full_name=f"{FAMILY[i % 10]} {MIDDLE[i % 8]} {GIVEN[(i // 7) % 10]}",
            unit=UNITS[i % len(UNITS)],
            position="Phó Bí thư Chi đoàn" if i % 3 else "Bí thư Đoàn cơ sở",
            course_title="Lớp bồi dưỡng nghiệp vụ công tác Đoàn cho cán bộ Đoàn chủ chốt năm 2026",
            course_date="27/11/2026",
            venue="Hội trường Thành ủy",
        )
        for i in range(n)
    ]


def main() -> None:
    badge_png(make_cards(1)[0])  # warm up: font files, caches of glyph widths

    cards = make_cards(1000)
    started = time.perf_counter()
    pdf = badge_sheets_pdf(cards, "a4-8")
    pdf_seconds = time.perf_counter() - started
    pdf_mb = len(pdf) / 1_000_000

    png_times = []
    for card in make_cards(50):
        started = time.perf_counter()
        badge_png(card)
        png_times.append((time.perf_counter() - started) * 1000)
    png_ms = statistics.median(png_times)

    def verdict(ok: bool) -> str:
        return "ok" if ok else "OVER TARGET"

    print(f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}")
    print(f"1,000 badges, a4-8 PDF (125 pages): {pdf_seconds:6.2f} s  (target < {PDF_SECONDS:.0f} s)   {verdict(pdf_seconds < PDF_SECONDS)}")
    print(f"                            size:  {pdf_mb:6.2f} MB (target < {PDF_MB:.0f} MB)  {verdict(pdf_mb < PDF_MB)}")
    print(f"badge_png at 300 dpi, median of 50: {png_ms:5.1f} ms (target < {PNG_MS:.0f} ms)  {verdict(png_ms < PNG_MS)}")
    http_figures()
    print("reproduce: .venv/bin/python bench/badges.py")


def http_figures(participants: int = 1000) -> None:
    import tempfile
    from datetime import datetime, timezone

    from starlette.testclient import TestClient

    from checkin.app import create_app
    from checkin.course.demo import create_demo
    from checkin.settings import Settings
    from checkin.store import organisers, people
    from checkin.store.db import open_sync, transaction

    with tempfile.TemporaryDirectory() as folder:
        settings = Settings(data_dir=Path(folder), secret_key="bench")
        conn = open_sync(settings.db_path)
        now = datetime.now(timezone.utc)
        with transaction(conn):
            organiser_id = organisers.insert_organiser(conn, "bench", "Bench", "bench password 123", now, is_admin=True)
            demo = create_demo(conn, now, settings.zone, participants, organiser_id=organiser_id)
        codes = [link.code for link in people.iter_badge_links(conn, demo.course_id)]
        conn.close()
        with TestClient(create_app(settings)) as client:
            page_ms = _median_ms(lambda i: client.get(f"/b/{codes[i % len(codes)]}").raise_for_status(), 100)
            png_ms = _median_ms(lambda i: client.get(f"/b/{codes[i]}/badge.png").raise_for_status(), 20)
            form = client.get("/login").text.split('name="csrf" value="', 1)[1].split('"', 1)[0]
            client.post("/login", data={"username": "bench", "password": "bench password 123", "csrf": form})
            page = client.get(f"/courses/{demo.course_id}/badges").text
            csrf = page.split('name="csrf" value="', 1)[1].split('"', 1)[0]
            started = time.perf_counter()
            job = client.post(f"/courses/{demo.course_id}/badges/jobs", data={"csrf": csrf, "layout": "a4-8"}).json()
            polls, seen = 0, set()
            while job["state"] == "running":
                time.sleep(0.25)
                job = client.get(job["status_url"]).json()
                polls += 1
                seen.add(job["done"])
            pdf = client.get(job["download_url"]).content
            job_seconds = time.perf_counter() - started

            # The door while a PDF is being made: scan latency with no job, then during one.
            token = {"Authorization": f"Bearer {demo.device_token}"}
            scan = lambda i: client.post("/api/v1/scans", json={"code": codes[i % len(codes)]}, headers=token)  # noqa: E731
            idle = _latencies(scan, 60)
            job = client.post(f"/courses/{demo.course_id}/badges/jobs", data={"csrf": csrf, "layout": "a4-8"}).json()
            busy = _latencies(lambda i: scan(i + 60), 60)
            while client.get(job["status_url"]).json()["state"] == "running":
                time.sleep(0.25)
    print(f"over HTTP, {participants}-person course (TestClient, in process):")
    print(f"  badge page /b/CODE, median of 100:    {page_ms:6.1f} ms")
    print(f"  badge.png, median of 20:              {png_ms:6.1f} ms")
    print(f"  PDF job, {participants} badges a4-8, start to download: {job_seconds:5.2f} s, "
          f"{polls} status polls, {len(seen)} distinct progress values, {len(pdf) / 1e6:.2f} MB")
    print(f"  scan POST, no job running:   median {statistics.median(idle):5.1f} ms, p95 {_p95(idle):5.1f} ms")
    print(f"  scan POST, during a PDF job: median {statistics.median(busy):5.1f} ms, p95 {_p95(busy):5.1f} ms")


def _latencies(call, n: int) -> list[float]:
    times = []
    for i in range(n):
        started = time.perf_counter()
        call(i)
        times.append((time.perf_counter() - started) * 1000)
    return times


def _p95(values: list[float]) -> float:
    return sorted(values)[int(0.95 * (len(values) - 1))]


def _median_ms(call, n: int) -> float:
    return statistics.median(_latencies(call, n))


if __name__ == "__main__":
    main()
