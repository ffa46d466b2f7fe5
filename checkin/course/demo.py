"""The demo course: the announcement's one-day course, held today, laid around the current time.

One session is on now (started a few minutes ago), earlier ones are over with attendance recorded
through the real scan function, later ones are still to come.
"""

from __future__ import annotations

import random
import sqlite3
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from ..door.scanning import ScanInput, record_scan_tx
from ..store import courses, devices, people, scans
from ..store.courses import NewCourse, NewSession
from ..store.people import PersonDetails
from ..text import fold

USERNAME = "demo"  # the demo's administrator account
TITLE = "Lớp bồi dưỡng kiến thức, nghiệp vụ cho cán bộ Đoàn cơ sở"
ORGANISER = "Đoàn Khối các cơ quan thành phố Hải Phòng"
VENUE = "Hội trường Thành đoàn Hải Phòng, số 2 Nguyễn Tri Phương, Hồng Bàng"

# (title, minutes): the opening ceremony, then the six topics of the announcement.
PROGRAMME = [
    ("Khai mạc lớp bồi dưỡng – phát biểu của đồng chí Bí thư Đoàn Khối", 30),
    ("Chuyên đề học tập, làm theo tư tưởng, đạo đức, phong cách Hồ Chí Minh năm 2022", 50),
    ("Hướng dẫn nghiệp vụ công tác đoàn viên, đoàn vụ", 50),
    ("Công tác bồi dưỡng, giới thiệu đoàn viên ưu tú cho Đảng", 50),
    ("Quán triệt Nghị quyết Đại hội Đoàn Khối lần thứ VI", 50),
    ("Chương trình hành động thực hiện Nghị quyết Đại hội Đoàn thành phố lần thứ XIV", 50),
    ("Hướng dẫn triển khai Phong trào “Tuổi trẻ sáng tạo”", 50),
]
CURRENT = 3  # index of the session that is on now
BREAK = timedelta(minutes=10)

UNITS = [
    "Đoàn Thanh niên Văn phòng Thành ủy", "Đoàn Thanh niên Văn phòng UBND thành phố",
    "Đoàn Thanh niên Sở Tài chính", "Đoàn Thanh niên Sở Kế hoạch và Đầu tư", "Đoàn Thanh niên Sở Y tế",
    "Đoàn Thanh niên Sở Giáo dục và Đào tạo", "Đoàn Thanh niên Sở Tư pháp", "Đoàn Thanh niên Sở Xây dựng",
    "Đoàn Thanh niên Sở Giao thông vận tải", "Đoàn Thanh niên Sở Công Thương",
    "Đoàn Thanh niên Sở Nông nghiệp và Phát triển nông thôn", "Đoàn Thanh niên Sở Tài nguyên và Môi trường",
    "Đoàn Thanh niên Sở Lao động – Thương binh và Xã hội", "Đoàn Thanh niên Sở Văn hóa và Thể thao",
    "Đoàn Thanh niên Sở Du lịch", "Đoàn Thanh niên Sở Khoa học và Công nghệ",
    "Đoàn Thanh niên Sở Thông tin và Truyền thông", "Đoàn Thanh niên Sở Nội vụ", "Đoàn Thanh niên Sở Ngoại vụ",
    "Đoàn Thanh niên Thanh tra thành phố", "Đoàn Thanh niên Cục Thuế thành phố",
    "Đoàn Thanh niên Cục Hải quan Hải Phòng", "Đoàn Thanh niên Kho bạc Nhà nước Hải Phòng",
    "Đoàn Thanh niên Bảo hiểm xã hội thành phố", "Đoàn Thanh niên Ngân hàng Nhà nước chi nhánh Hải Phòng",
    "Đoàn Thanh niên Cục Thống kê thành phố", "Đoàn Thanh niên Ban Quản lý Khu kinh tế Hải Phòng",
    "Đoàn Thanh niên Đài Phát thanh và Truyền hình Hải Phòng", "Đoàn Thanh niên Báo Hải Phòng",
    "Đoàn Thanh niên Liên đoàn Lao động thành phố", "Đoàn Thanh niên Hội Liên hiệp Phụ nữ thành phố",
    "Đoàn Thanh niên Ủy ban Mặt trận Tổ quốc Việt Nam thành phố", "Đoàn Thanh niên Tòa án nhân dân thành phố",
    "Đoàn Thanh niên Viện Kiểm sát nhân dân thành phố", "Đoàn Thanh niên Cục Thi hành án dân sự thành phố",
    "Đoàn Thanh niên Trường Chính trị Tô Hiệu",
]
SURNAMES = ["Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Vũ", "Võ", "Đặng", "Bùi", "Đỗ", "Hồ", "Ngô", "Dương", "Lý",
            "Phan", "Đinh", "Trịnh", "Đào", "Mai", "Lương", "Tạ", "Cao", "Đoàn", "Lưu"]
MIDDLE_F = ["Thị", "Thị Thu", "Thị Thanh", "Ngọc", "Thị Minh", "Thu", "Khánh", "Phương", "Thị Hồng", "Bảo"]
MIDDLE_M = ["Văn", "Đức", "Minh", "Quang", "Hữu", "Thành", "Công", "Tiến", "Xuân", "Anh", "Duy"]
GIVEN_F = ["Hương", "Lan", "Hà", "Trang", "Linh", "Thảo", "Ngọc", "Huyền", "Nhung", "Yến", "Quỳnh", "Phương",
           "Mai", "Hạnh", "Thủy", "Vân", "Giang", "Ánh", "Hằng", "Oanh"]
GIVEN_M = ["Hùng", "Dũng", "Tuấn", "Minh", "Hải", "Long", "Nam", "Sơn", "Phong", "Quân", "Huy", "Đạt", "Thắng",
           "Cường", "Khánh", "Việt", "Trung", "Tú", "Hiếu", "Đức"]
POSITIONS = ["Bí thư Chi đoàn", "Phó Bí thư Chi đoàn", "Bí thư Đoàn cơ sở", "Phó Bí thư Đoàn cơ sở",
             "Ủy viên Ban Chấp hành Đoàn cơ sở"]


@dataclass(frozen=True, slots=True)
class DemoCourse:
    course_id: int
    device_token: str
    participants: int
    sample_badge: str  # a badge code of someone not yet checked in to the session on now


def programme_times(now: datetime, zone: ZoneInfo) -> list[tuple[datetime, datetime]]:
    """Start and end of each session, so that session CURRENT started 0 to 5 minutes before `now`."""
    offsets, start = [], timedelta()
    for _title, minutes in PROGRAMME:
        offsets.append((start, start + timedelta(minutes=minutes)))
        start += timedelta(minutes=minutes) + BREAK
    local = now.astimezone(zone)
    current_start = local.replace(second=0, microsecond=0) - timedelta(minutes=local.minute % 5)
    first = current_start - offsets[CURRENT][0]
    return [(first + a, first + b) for a, b in offsets]


def make_person(rng: random.Random, unit: str, index: int) -> PersonDetails:
    female = rng.random() < 0.55
    surname, middle = rng.choice(SURNAMES), rng.choice(MIDDLE_F if female else MIDDLE_M)
    given = rng.choice(GIVEN_F if female else GIVEN_M)
    # Most cadres give a work e-mail (on the reserved .example domain: the demo never mails anyone real).
    email = ""
    if rng.random() < 0.7:
        initials = "".join(part[0] for part in fold(f"{surname} {middle}").split())
        email = f"{fold(given)}.{initials}{rng.randrange(10, 99)}@haiphong.example"
    return PersonDetails(
        full_name=f"{surname} {middle} {given}", unit=unit,
        position=POSITIONS[index % 2] if index < 2 else rng.choice(POSITIONS),
        phone="09" + "".join(str(rng.randrange(10)) for _ in range(8)),
        email=email, member_code=f"HP{rng.randrange(10**6, 10**7)}",
    )


def create_demo(conn: sqlite3.Connection, now: datetime, zone: ZoneInfo, participants: int = 80,
                seed: int = 2022, organiser_id: int | None = None) -> DemoCourse:
    """Create the demo course with its roster, two usher devices and the attendance so far."""
    rng = random.Random(seed)
    times = programme_times(now, zone)
    course_date = times[CURRENT][0].date()
    course_id = courses.insert_course(
        conn, NewCourse(title=TITLE, course_date=course_date, time_zone=zone.key, venue=VENUE, organiser_name=ORGANISER),
        now, organiser_id,
    )
    courses.mark_made_by_demo(conn, course_id)
    for (title, _m), (start, end) in zip(PROGRAMME, times):
        courses.insert_session(conn, course_id, NewSession(title, start, end))
    enrolments = []
    for index in range(participants):
        unit = UNITS[index % len(UNITS)]
        person = make_person(rng, unit, index // len(UNITS))
        enrolments.append(people.enrol(conn, course_id, people.insert_participant(conn, person, now), now))
    end_of_day = datetime.combine(course_date + timedelta(days=1), time(0), zone)
    expires = max(end_of_day, times[-1][1] + timedelta(hours=2))
    gate_a, token = devices.insert_device(conn, course_id, "Cổng A – Lan", expires, now)
    gate_b, _ = devices.insert_device(conn, course_id, "Cổng B – Minh", expires, now)
    _record_history(conn, rng, course_id, enrolments, (gate_a, gate_b), now)
    while len(scans.number_checkins(conn, course_id)) == scans.NUMBER_AT_ONCE:  # PostgreSQL: see insert_checkin
        pass
    current = courses.list_sessions(conn, course_id)[CURRENT]
    waiting = next((e for e in enrolments if scans.get_checkin(conn, e, current.id) is None), enrolments[0])
    return DemoCourse(course_id, token, participants, people.get_enrolment_badge_holder(conn, waiting).code)


def _arrival(rng: random.Random, session, until: datetime | None) -> datetime:
    """When a cadre arrives: most in the twenty minutes before the start, about one in eight late."""
    if rng.random() < 0.12:
        at = session.late_from + timedelta(minutes=1 + rng.random() * 20)
    else:
        at = session.starts_at - timedelta(minutes=rng.random() * 20) + timedelta(minutes=rng.random() * 5)
    at = max(at, session.opens_at)
    return at if until is None else min(at, until - timedelta(seconds=rng.randrange(5, 600)))


def _record_history(conn, rng, course_id, enrolments, gates, now) -> None:
    """Arrivals for the sessions already over, and some for the one under way, made by real scans."""
    for session in courses.list_sessions(conn, course_id):
        if session.opens_at >= now:
            continue
        running = session.ends_at > now
        share = 0.45 if running else 0.88
        for enrolment_id in enrolments:
            if rng.random() > share:
                continue
            at = _arrival(rng, session, now if running else None)
            holder = people.get_enrolment_badge_holder(conn, enrolment_id)
            record_scan_tx(conn, ScanInput(course_id=course_id, method="camera", code=holder.code,
                                           session_id=session.id, device_id=rng.choice(gates)), at)
        if not running:
            excused = rng.choice(enrolments)
            if scans.get_checkin(conn, excused, session.id) is None:
                scans.upsert_attendance(conn, excused, session.id, "excused", None, None, now,
                                        note="Đi công tác theo phân công của đơn vị")
