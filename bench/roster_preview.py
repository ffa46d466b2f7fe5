"""Time the organiser's import preview on a realistic 5,000-row roster workbook: parse_roster, then the
duplicate check against a course that already holds people (list_roster + importing.preview_roster).

Run: .venv/bin/python bench/roster_preview.py [--rows 5000] [--enrolled 2500] [--runs 3]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

import openpyxl

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from checkin.clock import system_clock  # noqa: E402
from checkin.course.importing import apply_roster, preview_roster  # noqa: E402
from checkin.roster import parse_roster  # noqa: E402
from checkin.store import courses, people  # noqa: E402
from checkin.store.courses import NewCourse  # noqa: E402
from checkin.store.db import open_sync, transaction  # noqa: E402

FAMILY = ["Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Vũ", "Võ", "Đặng", "Bùi", "Đỗ", "Hồ", "Ngô",
          "Dương", "Lý"]
MIDDLE = ["Văn", "Thị", "Minh", "Ngọc", "Thanh", "Hữu", "Đức", "Thu", "Quang", "Hoài", "Bảo", "Xuân"]
GIVEN = ["An", "Bình", "Cường", "Dũng", "Hương", "Hạnh", "Hùng", "Hưng", "Lan", "Linh", "Long", "Mai", "Nam",
         "Nga", "Phúc", "Quỳnh", "Sơn", "Tâm", "Thảo", "Trang", "Tuấn", "Uyên", "Việt", "Yến"]
UNITS = [f"Đoàn Thanh niên {name}" for name in (
    "Sở Tư pháp", "Sở Y tế", "Sở Nội vụ", "Sở Xây dựng", "Sở Tài chính", "Sở Công Thương", "Sở Giáo dục và Đào tạo",
    "Sở Giao thông vận tải", "Sở Kế hoạch và Đầu tư", "Sở Lao động - Thương binh và Xã hội", "Sở Ngoại vụ",
    "Sở Nông nghiệp và Phát triển nông thôn", "Sở Tài nguyên và Môi trường", "Sở Thông tin và Truyền thông",
    "Sở Văn hóa và Thể thao", "Sở Du lịch", "Sở Khoa học và Công nghệ", "Sở Quy hoạch - Kiến trúc",
    "Văn phòng UBND thành phố", "Văn phòng Thành ủy", "Văn phòng HĐND thành phố", "Thanh tra thành phố",
    "Ban Quản lý các khu công nghiệp", "Ban Dân tộc", "Cục Thuế thành phố", "Kho bạc Nhà nước thành phố",
    "Bảo hiểm xã hội thành phố", "Cục Hải quan thành phố", "Cục Thống kê", "Ngân hàng Nhà nước chi nhánh",
    "Đài Phát thanh và Truyền hình", "Báo Hà Nội Mới", "Trường Chính trị", "Viện Nghiên cứu phát triển",
    "Liên minh Hợp tác xã", "Hội Nông dân thành phố", "Công an thành phố", "Bộ Chỉ huy Quân sự thành phố",
    "Tòa án nhân dân thành phố", "Viện Kiểm sát nhân dân thành phố")]
POSITIONS = ["Bí thư", "Phó Bí thư", "Ủy viên Ban Chấp hành", "Bí thư Chi đoàn"]


def make_workbook(path: Path, rows: int, seed: int = 7) -> None:
    rng = random.Random(seed)
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = "Danh sách"
    sheet.append(["DANH SÁCH HỌC VIÊN LỚP BỒI DƯỠNG CÁN BỘ ĐOÀN CHỦ CHỐT"])
    sheet.merge_cells("A1:H1")
    sheet.append([])
    sheet.append(["STT", "Họ và tên", "Đơn vị", "Chức vụ", "Số điện thoại", "Email", "Mã đoàn viên", "Ghi chú"])
    for i in range(1, rows + 1):
        name = f"{rng.choice(FAMILY)} {rng.choice(MIDDLE)} {rng.choice(GIVEN)}"
        phone = 900_000_000 + i  # a number, as Excel stores a phone typed without a leading apostrophe
        email = f"hv{i}@example.vn" if i % 3 else ""
        sheet.append([i, name, rng.choice(UNITS), rng.choice(POSITIONS), phone, email, f"DV{i:06d}", ""])
    workbook.save(path)


def make_course(db_path: Path, parsed, enrolled: int) -> int:
    """A course already holding the first `enrolled` rows of the file (imported earlier), so that
    the preview finds that many likely duplicates and the rest as new people."""
    conn = open_sync(db_path)
    now = system_clock()
    with transaction(conn):
        course_id = courses.insert_course(conn, NewCourse("Bench course", now.date(), "Asia/Ho_Chi_Minh"), now)
        apply_roster(conn, course_id, parsed.rows[:enrolled], now)
    conn.close()
    return course_id


def http_preview(tmp: Path, db_path: Path, course_id: int, data: bytes, runs: int) -> list[float]:
    """Upload and preview through the web app, as the organiser does it: POST the file, GET the preview."""
    import re

    from starlette.testclient import TestClient

    from checkin.app import create_app
    from checkin.settings import Settings
    from checkin.store import organisers

    conn = open_sync(db_path)
    with transaction(conn):
        organiser_id = organisers.insert_organiser(conn, "bench", "Bench", "bench password", system_clock())
        conn.execute("INSERT INTO course_organisers (course_id, organiser_id) VALUES (?, ?)", (course_id, organiser_id))
    conn.close()
    settings = Settings(data_dir=tmp, db=db_path, secret_key="bench")
    times = []
    with TestClient(create_app(settings)) as client:
        token = re.search(r'name="csrf" value="([^"]+)"', client.get("/login").text).group(1)
        client.post("/login", data={"username": "bench", "password": "bench password", "csrf": token})
        token = re.search(r'name="csrf" value="([^"]+)"', client.get("/courses").text).group(1)
        for _ in range(runs):
            start = time.perf_counter()
            page = client.post(f"/courses/{course_id}/import", data={"csrf": token},
                               files={"roster": ("roster.xlsx", data, "application/octet-stream")})
            times.append(time.perf_counter() - start)
            assert page.status_code == 200 and "count-rows" in page.text, page.status_code
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=5000)
    parser.add_argument("--enrolled", type=int, default=2500, help="people already on the course")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "roster.xlsx"
        make_workbook(path, args.rows)
        data = path.read_bytes()
        course_id = make_course(Path(tmp) / "bench.sqlite3", parse_roster(data, path.name), args.enrolled)
        conn = open_sync(Path(tmp) / "bench.sqlite3")
        parse_times, check_times, totals = [], [], []
        for _ in range(args.runs):
            start = time.perf_counter()
            parsed = parse_roster(data, path.name)
            parsed_at = time.perf_counter()
            preview = preview_roster(parsed, people.list_roster(conn, course_id))
            done = time.perf_counter()
            parse_times.append(parsed_at - start)
            check_times.append(done - parsed_at)
            totals.append(done - start)
        conn.close()
        http_times = http_preview(Path(tmp), Path(tmp) / "bench.sqlite3", course_id, data, args.runs)
    print(f"roster: {args.rows} rows, {len(data) / 1e3:.0f} kB xlsx -> {len(parsed.rows)} rows, "
          f"{len(parsed.problems)} problems, {len(parsed.warnings)} warnings")
    print(f"course: {args.enrolled} people already enrolled -> preview: {preview.count('add')} new, "
          f"{len(preview.duplicates)} likely duplicates ({preview.count('update')} to update)")
    print(f"parse_roster      over {args.runs} runs: min {min(parse_times):.3f} s, median {statistics.median(parse_times):.3f} s")
    print(f"duplicate check   over {args.runs} runs: min {min(check_times):.3f} s, median {statistics.median(check_times):.3f} s")
    print(f"whole preview     over {args.runs} runs: min {min(totals):.3f} s, median {statistics.median(totals):.3f} s "
          f"(target < 3 s): {'OK' if statistics.median(totals) < 3 else 'TOO SLOW'}")
    print(f"over HTTP: upload + preview page over {args.runs} runs: min {min(http_times):.3f} s, "
          f"median {statistics.median(http_times):.3f} s")
    print("reproduce: .venv/bin/python bench/roster_preview.py")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
