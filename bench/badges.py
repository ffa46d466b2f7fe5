"""Benchmark badge rendering: 1,000 badges as a4-8 PDF sheets, and one badge PNG.

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

from checkin.badges import BadgeCard, badge_png, badge_sheets_pdf  # noqa: E402

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
    print("reproduce: .venv/bin/python bench/badges.py")


if __name__ == "__main__":
    main()
