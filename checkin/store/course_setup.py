"""Changing courses: edit, archive, copy, sessions (edit, reorder, delete) and who organises a course."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo

from ..clock import to_db
from ..models import Course, CourseSession, Organiser
from .bodies import get_or_insert_body
from .courses import NewCourse, NewSession, get_course, insert_course, insert_session, list_sessions, lock_course


@dataclass(frozen=True, slots=True)
class SessionUse:
    """What refers to a session: it can be deleted only when nothing does."""

    scans: int
    attendance: int


def move_to_day(moment: datetime, old_zone: str, old_day: date, new_zone: str, new_day: date) -> datetime:
    """The same wall-clock time, `new_day - old_day` days later, in the new zone (UTC out)."""
    local = moment.astimezone(ZoneInfo(old_zone))
    day = new_day + (local.date() - old_day)
    return datetime.combine(day, local.time().replace(tzinfo=None), ZoneInfo(new_zone)).astimezone(ZoneInfo("UTC"))


def update_course(conn: sqlite3.Connection, course_id: int, course: NewCourse) -> None:
    """Change a course's details. When its date or zone changes, every session keeps its wall-clock
    time on the new day, so a postponed course does not need each session re-entered."""
    old = get_course(conn, course_id)
    if old is None:
        return
    if (old.course_date, old.time_zone) != (course.course_date, course.time_zone):
        for s in list_sessions(conn, course_id):
            conn.execute(
                "UPDATE sessions SET starts_at = ?, ends_at = ? WHERE id = ?",
                (
                    to_db(move_to_day(s.starts_at, old.time_zone, old.course_date, course.time_zone, course.course_date)),
                    to_db(move_to_day(s.ends_at, old.time_zone, old.course_date, course.time_zone, course.course_date)),
                    s.id,
                ),
            )
    # The organising body follows the name the course prints (store/bodies.py).
    body_id = get_or_insert_body(conn, course.organiser_name, datetime.now(timezone.utc))
    conn.execute(
        "UPDATE courses SET title = ?, course_date = ?, venue = ?, organiser_name = ?, time_zone = ?,"
        " open_before_min = ?, late_after_min = ?, after_end = ?, body_id = ? WHERE id = ?",
        (
            course.title, course.course_date.isoformat(), course.venue, course.organiser_name, course.time_zone,
            course.open_before_min, course.late_after_min, course.after_end, body_id, course_id,
        ),
    )


def set_archived(conn: sqlite3.Connection, course_id: int, archived_at: datetime | None) -> None:
    """Archive a course (hidden from the main list, kept whole) or bring it back with None."""
    conn.execute(
        "UPDATE courses SET archived_at = ? WHERE id = ?", (to_db(archived_at) if archived_at else None, course_id)
    )


def copy_course(
    conn: sqlite3.Connection, source: Course, title: str, new_day: date, now: datetime, organiser_id: int | None
) -> int:
    """A new course with the source's settings and programme on another day; no people, no scans."""
    course_id = insert_course(
        conn,
        NewCourse(
            title=title, course_date=new_day, time_zone=source.time_zone, venue=source.venue,
            organiser_name=source.organiser_name, open_before_min=source.open_before_min,
            late_after_min=source.late_after_min, after_end=source.after_end,
        ),
        now,
        organiser_id,
    )
    for s in list_sessions(conn, source.id):
        move = lambda t: move_to_day(t, source.time_zone, source.course_date, source.time_zone, new_day)  # noqa: E731
        insert_session(
            conn, course_id,
            NewSession(s.title, move(s.starts_at), move(s.ends_at), s.own_open_before_min, s.own_late_after_min),
        )
    return course_id


def get_session(conn: sqlite3.Connection, course_id: int, session_id: int) -> CourseSession | None:
    for session in list_sessions(conn, course_id):
        if session.id == session_id:
            return session
    return None


def update_session(conn: sqlite3.Connection, session_id: int, session: NewSession) -> None:
    conn.execute(
        "UPDATE sessions SET title = ?, starts_at = ?, ends_at = ?, open_before_min = ?, late_after_min = ?"
        " WHERE id = ?",
        (
            session.title, to_db(session.starts_at), to_db(session.ends_at), session.open_before_min,
            session.late_after_min, session_id,
        ),
    )


def count_session_use(conn: sqlite3.Connection, session_id: int) -> SessionUse:
    (scans,) = conn.execute("SELECT COUNT(*) FROM scans WHERE session_id = ?", (session_id,)).fetchone()
    (rows,) = conn.execute("SELECT COUNT(*) FROM attendance WHERE session_id = ?", (session_id,)).fetchone()
    return SessionUse(scans, rows)


def delete_session(conn: sqlite3.Connection, course_id: int, session_id: int) -> bool:
    """Delete a session nothing refers to yet; False (and nothing deleted) when scans or attendance do."""
    use = count_session_use(conn, session_id)
    if use.scans or use.attendance:
        return False
    conn.execute("DELETE FROM session_rules WHERE session_id = ?", (session_id,))  # its completion settings
    conn.execute("DELETE FROM sessions WHERE id = ? AND course_id = ?", (session_id, course_id))
    _renumber(conn, course_id)
    return True


def move_session(conn: sqlite3.Connection, course_id: int, session_id: int, step: int) -> bool:
    """Move a session one place earlier (step -1) or later (+1) in the programme; False at either end."""
    lock_course(conn, course_id)  # one reordering at a time, on the order as it stands
    order = [s.id for s in list_sessions(conn, course_id)]
    if session_id not in order:
        return False
    i = order.index(session_id)
    j = i + step
    if not 0 <= j < len(order):
        return False
    order[i], order[j] = order[j], order[i]
    _renumber(conn, course_id, order)
    return True


def _renumber(conn: sqlite3.Connection, course_id: int, order: list[int] | None = None) -> None:
    if order is None:
        order = [s.id for s in list_sessions(conn, course_id)]
    for position, session_id in enumerate(order, start=1):
        conn.execute("UPDATE sessions SET position = ? WHERE id = ?", (position, session_id))


def list_course_organisers(conn: sqlite3.Connection, course_id: int) -> list[Organiser]:
    rows = conn.execute(
        "SELECT o.id, o.username, o.display_name, o.is_admin FROM organisers o"
        " JOIN course_organisers co ON co.organiser_id = o.id WHERE co.course_id = ? ORDER BY o.username",
        (course_id,),
    )
    return [Organiser(r[0], r[1], r[2], bool(r[3])) for r in rows]


def add_course_organiser(conn: sqlite3.Connection, course_id: int, organiser_id: int) -> bool:
    """Make an organiser one of the course's organisers; False when they already were."""
    return conn.execute(
        "INSERT INTO course_organisers (course_id, organiser_id) VALUES (?, ?) ON CONFLICT DO NOTHING",
        (course_id, organiser_id),
    ).rowcount == 1


def list_organisers(conn: sqlite3.Connection) -> list[Organiser]:
    rows = conn.execute("SELECT id, username, display_name, is_admin, disabled_at FROM organisers ORDER BY username")
    return [Organiser(r[0], r[1], r[2], bool(r[3]), r[4] is not None) for r in rows]
