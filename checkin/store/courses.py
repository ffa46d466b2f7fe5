"""Courses and their sessions."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import date, datetime

from ..clock import from_db, to_db
from ..models import Course, CourseSession
from .bodies import get_or_insert_body
from .dialect import for_update

_COURSE_COLUMNS = (
    "id, title, course_date, venue, organiser_name, time_zone, open_before_min, late_after_min,"
    " after_end, min_sessions_for_certificate, archived_at"
)


@dataclass(frozen=True, slots=True)
class NewCourse:
    title: str
    course_date: date
    time_zone: str
    venue: str = ""
    organiser_name: str = ""
    open_before_min: int = 30
    late_after_min: int = 10
    after_end: str = "refuse"


@dataclass(frozen=True, slots=True)
class NewSession:
    title: str
    starts_at: datetime
    ends_at: datetime
    open_before_min: int | None = None
    late_after_min: int | None = None


def _course(row: sqlite3.Row) -> Course:
    return Course(
        id=row["id"],
        title=row["title"],
        course_date=date.fromisoformat(row["course_date"]),
        venue=row["venue"],
        organiser_name=row["organiser_name"],
        time_zone=row["time_zone"],
        open_before_min=row["open_before_min"],
        late_after_min=row["late_after_min"],
        after_end=row["after_end"],
        min_sessions_for_certificate=row["min_sessions_for_certificate"],
        archived_at=from_db(row["archived_at"]),
    )


def insert_course(conn: sqlite3.Connection, course: NewCourse, now: datetime, organiser_id: int | None = None) -> int:
    """Create a course (and make `organiser_id` one of its organisers); returns its id."""
    body_id = get_or_insert_body(conn, course.organiser_name, now)
    cur = conn.execute(
        "INSERT INTO courses (title, course_date, venue, organiser_name, time_zone, open_before_min,"
        " late_after_min, after_end, created_at, body_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
        (
            course.title, course.course_date.isoformat(), course.venue, course.organiser_name,
            course.time_zone, course.open_before_min, course.late_after_min, course.after_end, to_db(now), body_id,
        ),
    )
    course_id = cur.fetchone()[0]
    if organiser_id is not None:
        conn.execute(
            "INSERT INTO course_organisers (course_id, organiser_id) VALUES (?, ?)", (course_id, organiser_id)
        )
    return course_id


def lock_course(conn: sqlite3.Connection, course_id: int) -> None:
    """Keep the course's row locked until the commit: its programme's order is about to change (dialect.py)."""
    conn.execute("SELECT id FROM courses WHERE id = ?" + for_update(conn), (course_id,)).fetchall()


def mark_made_by_demo(conn: sqlite3.Connection, course_id: int) -> None:
    conn.execute("UPDATE courses SET made_by_demo = 1 WHERE id = ?", (course_id,))


def holds_real_data(conn: sqlite3.Connection, demo_username: str) -> bool:
    """Whether the database holds anything `checkin demo` did not make: a course, or an organiser account."""
    return bool(conn.execute(
        "SELECT EXISTS (SELECT 1 FROM courses WHERE made_by_demo = 0)"
        " OR EXISTS (SELECT 1 FROM organisers WHERE username <> ?)", (demo_username,),
    ).fetchone()[0])


def insert_session(conn: sqlite3.Connection, course_id: int, session: NewSession) -> int:
    """Append a session at the end of the course's programme; returns its id."""
    lock_course(conn, course_id)  # two sessions added at once must not both take the next position
    (position,) = conn.execute(
        "SELECT COALESCE(MAX(position), 0) + 1 FROM sessions WHERE course_id = ?", (course_id,)
    ).fetchone()
    cur = conn.execute(
        "INSERT INTO sessions (course_id, position, title, starts_at, ends_at, open_before_min, late_after_min)"
        " VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
        (
            course_id, position, session.title, to_db(session.starts_at), to_db(session.ends_at),
            session.open_before_min, session.late_after_min,
        ),
    )
    return cur.fetchone()[0]


def get_course(conn: sqlite3.Connection, course_id: int) -> Course | None:
    row = conn.execute(f"SELECT {_COURSE_COLUMNS} FROM courses WHERE id = ?", (course_id,)).fetchone()
    return _course(row) if row else None


def list_courses(conn: sqlite3.Connection, organiser_id: int | None = None) -> list[Course]:
    """All courses, newest first; only those `organiser_id` organises when given."""
    if organiser_id is None:
        rows = conn.execute(f"SELECT {_COURSE_COLUMNS} FROM courses ORDER BY course_date DESC, id DESC")
    else:
        rows = conn.execute(
            f"SELECT {_COURSE_COLUMNS} FROM courses WHERE id IN"
            " (SELECT course_id FROM course_organisers WHERE organiser_id = ?)"
            " ORDER BY course_date DESC, id DESC",
            (organiser_id,),
        )
    return [_course(row) for row in rows]


def list_sessions(conn: sqlite3.Connection, course_id: int) -> list[CourseSession]:
    """The course's sessions in programme order, with their windows resolved from the course defaults."""
    rows = conn.execute(
        "SELECT s.id, s.course_id, s.position, s.title, s.starts_at, s.ends_at,"
        " COALESCE(s.open_before_min, c.open_before_min) AS open_before,"
        " COALESCE(s.late_after_min, c.late_after_min) AS late_after,"
        " s.open_before_min AS own_open, s.late_after_min AS own_late"
        " FROM sessions s JOIN courses c ON c.id = s.course_id"
        " WHERE s.course_id = ? ORDER BY s.position, s.id",
        (course_id,),
    )
    # Read on every scan: positional fields, no per-column lookups by name.
    return [
        CourseSession(r[0], r[1], r[2], r[3], from_db(r[4]), from_db(r[5]), r[6], r[7], r[8], r[9]) for r in rows
    ]


def get_rules(conn: sqlite3.Connection, course_id: int) -> tuple[list[CourseSession], str] | None:
    """The course's sessions and after-end policy, as the scan rule needs them; None for no course.

    Read on every scan: the sessions are kept in the connection's memo and read again only when the
    course's rules_version (changed by triggers on any edit) differs."""
    row = conn.execute("SELECT rules_version, after_end FROM courses WHERE id = ?", (course_id,)).fetchone()
    if row is None:
        return None
    return rules_at_version(conn, course_id, row[0], row[1])


def rules_at_version(conn: sqlite3.Connection, course_id: int, version: int, after_end: str) -> tuple[list[CourseSession], str]:
    """get_rules once the course's rules_version and after_end are read (store.door reads them with the device)."""
    memo = getattr(conn, "memo", None)
    key = ("rules", course_id)
    if memo is not None:
        cached = memo.get(key)
        if cached is not None and cached[0] == version:
            return cached[1], after_end
    sessions = list_sessions(conn, course_id)
    if memo is not None:
        memo[key] = (version, sessions)
    return sessions, after_end


def is_course_organiser(conn: sqlite3.Connection, course_id: int, organiser_id: int) -> bool:
    row = conn.execute(
        "SELECT 1 FROM course_organisers WHERE course_id = ? AND organiser_id = ?", (course_id, organiser_id)
    ).fetchone()
    return row is not None
