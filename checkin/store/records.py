"""Reading a person's record across courses: their enrolments as each course had them, the sessions'
attendance, certificates, merges and the audit of their record."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import date, datetime

from ..clock import from_db
from ..models import CourseSession
from ..store.audit import AuditEntry


@dataclass(frozen=True, slots=True)
class RecordCourse:
    """One enrolment of the person: the course, and the person as that course's roster had them."""

    enrolment_id: int
    course_id: int
    title: str
    course_date: date
    time_zone: str
    full_name: str
    unit: str
    position: str
    certificate_code: str
    certificate_revoked: bool


@dataclass(frozen=True, slots=True)
class RecordStatus:
    enrolment_id: int
    session_id: int
    status: str
    checked_in_at: datetime | None


@dataclass(frozen=True, slots=True)
class MergeEntry:
    id: int
    kept_id: int
    merged_id: int
    reason: str
    merged_at: datetime
    split_at: datetime | None
    split_reason: str
    courses: int


def list_record_courses(conn: sqlite3.Connection, person_id: int) -> list[RecordCourse]:
    """Every enrolment of the person (and of records merged into them), oldest course first."""
    rows = conn.execute(
        "SELECT e.id, c.id, c.title, c.course_date, c.time_zone, p.full_name, COALESCE(u.name, ''), p.position,"
        " COALESCE(ce.code, ''), ce.revoked_at"
        " FROM participants p JOIN enrolments e ON e.participant_id = p.id JOIN courses c ON c.id = e.course_id"
        " LEFT JOIN units u ON u.id = p.unit_id LEFT JOIN certificates ce ON ce.enrolment_id = e.id"
        " WHERE p.person_id = ? ORDER BY c.course_date, c.id, e.id", (person_id,))
    return [RecordCourse(r[0], r[1], r[2], date.fromisoformat(r[3]), r[4], r[5], r[6], r[7], r[8], r[9] is not None)
            for r in rows]


def _marks(ids) -> str:
    return ", ".join("?" for _ in ids)


def list_sessions_of(conn: sqlite3.Connection, course_ids: list[int]) -> dict[int, list[CourseSession]]:
    """The sessions of these courses, in order, by course."""
    found: dict[int, list[CourseSession]] = {c: [] for c in course_ids}
    if not course_ids:
        return found
    rows = conn.execute(
        "SELECT s.id, s.course_id, s.position, s.title, s.starts_at, s.ends_at,"
        " COALESCE(s.open_before_min, c.open_before_min), COALESCE(s.late_after_min, c.late_after_min),"
        " s.open_before_min, s.late_after_min FROM sessions s JOIN courses c ON c.id = s.course_id"
        f" WHERE s.course_id IN ({_marks(course_ids)}) ORDER BY s.course_id, s.position, s.id", tuple(course_ids))
    for r in rows:
        found[r[1]].append(CourseSession(r[0], r[1], r[2], r[3], from_db(r[4]), from_db(r[5]), r[6], r[7], r[8], r[9]))
    return found


def list_statuses_of(conn: sqlite3.Connection, enrolment_ids: list[int]) -> list[RecordStatus]:
    if not enrolment_ids:
        return []
    rows = conn.execute(
        "SELECT enrolment_id, session_id, status, checked_in_at FROM attendance"
        f" WHERE enrolment_id IN ({_marks(enrolment_ids)})", tuple(enrolment_ids))
    return [RecordStatus(r[0], r[1], r[2], from_db(r[3])) for r in rows]


def list_merges(conn: sqlite3.Connection, person_id: int) -> list[MergeEntry]:
    """The merges that made this record (newest first), split or standing."""
    rows = conn.execute(
        "SELECT id, kept_id, merged_id, reason, merged_at, split_at, split_reason, participant_ids FROM person_merges"
        " WHERE kept_id = ? OR merged_id = ? ORDER BY id DESC", (person_id, person_id))
    return [MergeEntry(r[0], r[1], r[2], r[3], from_db(r[4]), from_db(r[5]), r[6], r[7].count(",") + 1 if r[7] != "[]"
                       else 0) for r in rows]


def list_person_audit(conn: sqlite3.Connection, person_id: int) -> list[AuditEntry]:
    rows = conn.execute(
        "SELECT a.id, a.at, a.action, a.subject, a.detail, COALESCE(o.display_name, ''), ''"
        " FROM audit_log a LEFT JOIN organisers o ON o.id = a.organiser_id"
        " WHERE a.course_id IS NULL AND a.subject = ? ORDER BY a.id DESC LIMIT 200", (f"person {person_id}",))
    return [AuditEntry(r[0], from_db(r[1]), r[2], r[3], r[4], r[5], r[6]) for r in rows]


def get_badge_person(conn: sqlite3.Connection, code: str) -> int | None:
    """The person behind an active badge code (None for a revoked or unknown code, or an unlinked enrolment)."""
    row = conn.execute(
        "SELECT pe.id, pe.merged_into FROM badges b JOIN enrolments e ON e.id = b.enrolment_id"
        " JOIN participants p ON p.id = e.participant_id JOIN people pe ON pe.id = p.person_id"
        " WHERE b.code = ? AND b.revoked_at IS NULL", (code,)).fetchone()
    return None if row is None else row[0]


def get_enrolment_person(conn: sqlite3.Connection, course_id: int, enrolment_id: int) -> tuple[int, int] | None:
    """(body id, person id) of an enrolment of this course, None if it is not one (or not linked)."""
    row = conn.execute(
        "SELECT pe.body_id, COALESCE(pe.merged_into, pe.id) FROM enrolments e JOIN participants p ON p.id = e.participant_id"
        " JOIN people pe ON pe.id = p.person_id WHERE e.id = ? AND e.course_id = ?", (enrolment_id, course_id)).fetchone()
    return (row[0], row[1]) if row else None
