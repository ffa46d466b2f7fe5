"""Attendance workbook of a 5,000-cadre, 7-session course: time to read it from the database and write the .xlsx.

Builds the demo course (`checkin demo`, the announcement's seven sessions) in a temporary database, then
times exports.load_report + exports_xlsx.attendance_workbook (what the organiser's download and
`checkin export --format xlsx` run), and checks the file by reading it back with openpyxl.

    .venv/bin/python bench/export.py [--participants 5000] [--runs 3]

Target (issue 6): under 5 seconds. Exit status 1 when it is missed.
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import openpyxl  # noqa: E402

from checkin.documents import exports  # noqa: E402
from checkin.course.demo import create_demo  # noqa: E402
from checkin.documents.exports_xlsx import attendance_workbook  # noqa: E402
from checkin.store.db import open_sync, transaction  # noqa: E402

TARGET_S = 5.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--participants", type=int, default=5000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    now = datetime.now(timezone.utc)
    with tempfile.TemporaryDirectory(prefix="checkin-bench-") as tmp:
        conn = open_sync(Path(tmp) / "bench.sqlite3")
        from zoneinfo import ZoneInfo

        with transaction(conn):
            demo = create_demo(conn, now, ZoneInfo("Asia/Ho_Chi_Minh"), args.participants)
        timings, size = [], 0
        for _ in range(args.runs):
            started = time.perf_counter()
            report = exports.load_report(conn, demo.course_id, now)
            data = attendance_workbook(report)
            timings.append(time.perf_counter() - started)
            size = len(data)
        conn.close()
    book = openpyxl.load_workbook(io.BytesIO(data), read_only=True)
    sessions = len(book.sheetnames) - 2
    rows = sum(1 for _ in book.worksheets[2].iter_rows()) - 1
    book.close()
    best, median = min(timings), statistics.median(timings)
    print(f"xlsx of {rows} cadres x {sessions} sessions ({size / 1e6:.1f} MB, {len(book.sheetnames)} sheets):"
          f" best {best:.2f} s, median {median:.2f} s over {args.runs} runs (target < {TARGET_S:g} s)")
    print("command: .venv/bin/python bench/export.py " + " ".join(sys.argv[1:]))
    return 0 if median < TARGET_S and rows == args.participants else 1


if __name__ == "__main__":
    raise SystemExit(main())
