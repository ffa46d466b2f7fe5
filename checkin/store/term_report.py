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


# What the report page counts is summed by the database: a few thousand groups cross the connection, not one
# row per enrolment (60,000 rows through a PostgreSQL connection cost more than counting them there).
def tally_rows(conn: sqlite3.Connection, course_ids: list[int]) -> list[tuple[int | None, int, str, bool, bool, int]]:
    """(unit id, course id, position as spelt, attended, certified, how many enrolments) of these courses."""
    found = []
    for start in range(0, len(course_ids), 200):
        part = course_ids[start:start + 200]
        found += [(r[0], r[1], r[2], bool(r[3]), bool(r[4]), r[5]) for r in conn.execute(
            "SELECT unit_id, course_id, position, attended, certified, COUNT(*) FROM ("
            " SELECT p.unit_id, e.course_id, p.position,"
            " CASE WHEN EXISTS (SELECT 1 FROM attendance a WHERE a.enrolment_id = e.id"
            " AND a.status IN ('present', 'late')) THEN 1 ELSE 0 END AS attended,"
            " CASE WHEN EXISTS (SELECT 1 FROM certificates ce WHERE ce.enrolment_id = e.id"
            " AND ce.revoked_at IS NULL) THEN 1 ELSE 0 END AS certified"
            " FROM enrolments e JOIN participants p ON p.id = e.participant_id"
            f" WHERE e.course_id IN ({', '.join('?' * len(part))})) x"
            " GROUP BY unit_id, course_id, position, attended, certified", tuple(part))]
    return found


def latest_roles(conn: sqlite3.Connection, course_ids: list[int]) -> dict[int, tuple[int | None, str]]:
    """Each person's unit and position on their latest course among these."""
    marks = ", ".join("?" * len(course_ids))
    rows = conn.execute(
        "SELECT person_id, unit_id, position FROM ("
        " SELECT p.person_id, p.unit_id, p.position, ROW_NUMBER() OVER (PARTITION BY p.person_id"
        " ORDER BY c.course_date DESC, c.id DESC) AS n"
        " FROM enrolments e JOIN participants p ON p.id = e.participant_id JOIN courses c ON c.id = e.course_id"
        f" WHERE e.course_id IN ({marks}) AND p.person_id IS NOT NULL) x WHERE n = 1", tuple(course_ids))
    return {r[0]: (r[1], r[2]) for r in rows}


def certified_counts(conn: sqlite3.Connection, course_ids: list[int]) -> dict[int, int]:
    """Per person, of how many of these courses they hold a valid certificate."""
    marks = ", ".join("?" * len(course_ids))
    rows = conn.execute(
        "SELECT p.person_id, COUNT(DISTINCT ce.course_id) FROM certificates ce"
        " JOIN enrolments e ON e.id = ce.enrolment_id JOIN participants p ON p.id = e.participant_id"
        f" WHERE ce.revoked_at IS NULL AND ce.course_id IN ({marks}) AND p.person_id IS NOT NULL"
        " GROUP BY p.person_id", tuple(course_ids))
    return {r[0]: r[1] for r in rows}
