"""A unit's view of the day: for the session on now (or the next), which of its cadres arrived and which not.
Reads the unit's few dozen rows only, so that forty secretaries following it cost the door nothing measurable."""

from __future__ import annotations

import sqlite3
from datetime import datetime
from zoneinfo import ZoneInfo

from ..course import attendance
from ..door import rules
from ..models import Course
from ..store import courses, people, units
from ..text import fold


def read_unit_live(conn: sqlite3.Connection, course: Course, summoned_id: int, now: datetime) -> dict:
    sessions = courses.list_sessions(conn, course.id)
    ids = units.enrolled_ids(units.list_nominees(conn, summoned_id))
    roster = people.list_roster_entries(conn, course.id, ids)
    rows = units.list_unit_attendance(conn, summoned_id)
    session = rules.pick_session(sessions, now) or next((s for s in sessions if s.starts_at > now), None)
    arrived, missing = [], []
    if session is not None:
        zone = ZoneInfo(course.time_zone)
        by_person = {r.enrolment_id: r for r in rows if r.session_id == session.id}
        for person in sorted(roster, key=lambda p: fold(p.full_name)):
            row = by_person.get(person.enrolment_id)
            entry = {"name": person.full_name, "position": person.position, "phone": person.phone,
                     "status": attendance.status_of(session, row, now),
                     "at": row.checked_in_at.astimezone(zone).strftime("%H:%M") if row and row.checked_in_at else ""}
            (arrived if entry["status"] in ("present", "late", "excused") else missing).append(entry)
    return {"session": {"id": session.id, "title": session.title} if session else None,
            "arrived": arrived, "missing": missing}


def unit_views(conn: sqlite3.Connection, course_id: int) -> dict[str, int]:
    """Unit name (as rosters spell it) -> the invited unit's id, for linking tables to the unit's view: the
    directory's own name, and the spellings an organiser tied to it."""
    found = {}
    summoned = units.list_summoned_units(conn, course_id)
    by_member = {s.member_unit_id: s.id for s in summoned}
    for s in summoned:
        found[s.name] = s.id
    for name, member_unit_id in conn.execute(
            "SELECT u.name, x.member_unit_id FROM unit_spellings x JOIN units u ON u.id = x.unit_id"
            " JOIN courses c ON c.body_id = x.body_id WHERE c.id = ? AND x.member_unit_id IS NOT NULL", (course_id,)):
        if member_unit_id in by_member:
            found.setdefault(name, by_member[member_unit_id])
    return found
