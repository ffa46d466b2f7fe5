"""Time parse_roster on a realistic 5,000-row roster workbook (the organiser's import preview).

Run: .venv/bin/python bench/roster_preview.py [--rows 5000] [--runs 3]
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

from checkin.roster import parse_roster  # noqa: E402

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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=5000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "roster.xlsx"
        make_workbook(path, args.rows)
        data = path.read_bytes()
        times = []
        for _ in range(args.runs):
            start = time.perf_counter()
            parsed = parse_roster(data, path.name)
            times.append(time.perf_counter() - start)
    print(f"roster: {args.rows} rows, {len(data) / 1e3:.0f} kB xlsx -> {len(parsed.rows)} rows, "
          f"{len(parsed.problems)} problems, {len(parsed.warnings)} warnings")
    print(f"parse_roster over {args.runs} runs: min {min(times):.3f} s, median {statistics.median(times):.3f} s "
          "(target for the whole preview: < 3 s)")
    print("reproduce: .venv/bin/python bench/roster_preview.py")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
