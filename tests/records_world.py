"""Three courses of one body over a year, with overlapping rosters that spell the same people differently:
the world of the records tests (HTTP, store, browser)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone

from checkin.store import certificates, courses, people, scans
from checkin.store.certificates import NewCertificate
from checkin.store.courses import NewCourse, NewSession
from checkin.store.people import PersonDetails

from .conftest import ZONE

BODY = "Đoàn Khối các cơ quan thành phố"
TAI_CHINH, Y_TE, CUC_THUE = "Đoàn TN Sở Tài chính", "Đoàn TN Sở Y tế", "Đoàn TN Cục Thuế"

# (name, unit, position, phone, member code), per course; comments: what linking should do.
ROSTERS = {
    "A": (date(2026, 1, 15), [
        ("Nguyễn Thị Hương", TAI_CHINH, "Phó Bí thư", "0912 345 678", ""),
        ("Trần Văn Nam", Y_TE, "Bí thư", "0987654321", "DV001"),
        ("Lê Minh Đức", TAI_CHINH, "Bí thư", "0901111222", ""),
        ("Phạm Thu Trang", CUC_THUE, "Phó Bí thư", "0933000111", ""),
    ]),
    "B": (date(2026, 6, 10), [
        ("nguyen thi  huong", "Đoàn TN Sở Tài Chính", "Bí thư", "+84 912.345.678", ""),  # phone, promoted
        ("Trần Văn Nam", Y_TE, "Bí thư", "0999999999", "dv001"),  # member code, phone changed
        ("Lê  Minh Đức", "đoàn tn sở tài chính", "Bí thư", "0902222333", ""),  # changed phone: a proposal
        ("Võ Văn Mới", Y_TE, "Phó Bí thư", "0977000000", ""),  # new
    ]),
    "C": (date(2026, 11, 20), [
        ("Nguyễn Thị Hương", TAI_CHINH, "Bí thư", "0912345678", ""),  # phone
        ("Phạm Thu Trang", CUC_THUE, "Bí thư", "", ""),  # no phone: name + unit, a proposal
        ("Phạm Thu Trang", "Đoàn TN Sở Xây dựng", "Phó Bí thư", "", ""),  # a namesake elsewhere: new
        ("Lý Văn Khác", Y_TE, "Bí thư", "0933000111", ""),  # Trang's phone, another name: a proposal
    ]),
}


@dataclass
class Scenario:
    body_id: int
    course_ids: dict[str, int]
    sessions: dict[str, list[int]]
    enrolments: dict[str, list[int]]  # per course, in roster order
    codes: dict[str, list[str]]
    certificates: dict[int, str] = field(default_factory=dict)  # enrolment id -> verification code


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=ZONE).astimezone(timezone.utc)


def build(conn, organiser_id: int | None, now: datetime) -> Scenario:
    """The three courses, their rosters enrolled in course order; attendance: everyone present in every session
    but the second roster row of each course, late in session 2 and absent from session 3; certificates for
    those who attended everything."""
    s = Scenario(0, {}, {}, {}, {})
    for key, (day, roster) in ROSTERS.items():
        course_id = courses.insert_course(conn, NewCourse(title=f"Lớp bồi dưỡng {key}", course_date=day,
                                                          time_zone=ZONE.key, organiser_name=BODY), now, organiser_id)
        s.course_ids[key] = course_id
        s.sessions[key] = [courses.insert_session(conn, course_id, NewSession(f"Chuyên đề {i + 1}", at(day, 8 + i),
                                                                               at(day, 8 + i, 50))) for i in range(3)]
        s.enrolments[key], s.codes[key] = [], []
        for name, unit, position, phone, code in roster:
            pid = people.insert_participant(conn, PersonDetails(name, unit, position, phone, "", code), now)
            enrolment_id = people.enrol(conn, course_id, pid, now)
            s.enrolments[key].append(enrolment_id)
            s.codes[key].append(people.get_enrolment_badge_holder(conn, enrolment_id).code)
        for index, enrolment_id in enumerate(s.enrolments[key]):
            for n, session_id in enumerate(s.sessions[key]):
                if index == 1 and n == 2:
                    continue
                late = index == 1 and n == 1
                scans.upsert_attendance(conn, enrolment_id, session_id, "late" if late else "present", None,
                                        at(day, 8 + n, 15 if late else 0), now)
            if index != 1:
                code = f"CERT{key}{index}"
                certificates.upsert_certificate(conn, NewCertificate(code, course_id, enrolment_id, roster[index][0],
                                                                     roster[index][1], 3, 3), now)
                s.certificates[enrolment_id] = code
    s.body_id = conn.execute("SELECT body_id FROM courses WHERE id = ?", (s.course_ids["A"],)).fetchone()[0]
    return s


def person_of(conn, enrolment_id: int) -> int:
    return conn.execute("SELECT p.person_id FROM enrolments e JOIN participants p ON p.id = e.participant_id"
                        " WHERE e.id = ?", (enrolment_id,)).fetchone()[0]


def later(now: datetime, days: int) -> datetime:
    return now + timedelta(days=days)
