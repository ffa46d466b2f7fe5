"""The rows behind the term report: one per enrolment of the chosen courses, with the unit and position as
that course had them, whether the cadre attended (a session checked in, on time or late) and holds a valid
certificate. One indexed query; the counting is in records/term_report.py."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import date
from typing import NamedTuple


class ReportRow(NamedTuple):
    """A plain tuple: the report makes 60,000 of them, and counts them in one pass."""

    course_id: int
    person_id: int | None
    unit_id: int | None
    position: str
    attended: bool
    certified: bool


@dataclass(frozen=True, slots=True)
class ReportCourse:
    id: int
    title: str
    course_date: date


def list_report_courses(conn: sqlite3.Connection, course_ids: list[int]) -> list[ReportCourse]:
    if not course_ids:
        return []
    rows = conn.execute(f"SELECT id, title, course_date FROM courses WHERE id IN ({', '.join('?' * len(course_ids))})"
                        " ORDER BY course_date, id", tuple(course_ids))
    return [ReportCourse(r[0], r[1], date.fromisoformat(r[2])) for r in rows]


def list_report_rows(conn: sqlite3.Connection, course_ids: list[int]) -> list[ReportRow]:
    """Every enrolment of these courses, in course order."""
    found: list[ReportRow] = []
    for course_id in course_ids:  # one course at a time, three index range reads, joined here
        attended = {r[0] for r in conn.execute(
            "SELECT DISTINCT a.enrolment_id FROM sessions s JOIN attendance a ON a.session_id = s.id"
            " WHERE s.course_id = ? AND a.status IN ('present', 'late')", (course_id,))}
        certified = {r[0] for r in conn.execute(
            "SELECT enrolment_id FROM certificates WHERE course_id = ? AND revoked_at IS NULL", (course_id,))}
        rows = conn.execute(
            "SELECT e.id, p.person_id, p.unit_id, p.position FROM enrolments e"
            " JOIN participants p ON p.id = e.participant_id WHERE e.course_id = ?", (course_id,))
        found.extend([ReportRow(course_id, r[1], r[2], r[3], r[0] in attended, r[0] in certified) for r in rows])
    return found


def unit_names(conn: sqlite3.Connection, unit_ids: list[int]) -> dict[int, str]:
    names: dict[int, str] = {}
    ids = sorted(set(unit_ids))
    for start in range(0, len(ids), 500):
        part = ids[start:start + 500]
        names.update((r[0], r[1]) for r in conn.execute(
            f"SELECT id, name FROM units WHERE id IN ({', '.join('?' * len(part))})", tuple(part)))
    return names


def person_names(conn: sqlite3.Connection, person_ids: list[int]) -> dict[int, str]:
    names: dict[int, str] = {}
    ids = sorted(set(person_ids))
    for start in range(0, len(ids), 500):
        part = ids[start:start + 500]
        names.update((r[0], r[1]) for r in conn.execute(
            f"SELECT id, full_name FROM people WHERE id IN ({', '.join('?' * len(part))})", tuple(part)))
    return names
