"""A person's training record: every course, each session's status, late arrivals, certificates, and the
units and positions over time. One read (a few indexed queries), then pure assembly."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import date, datetime

from ..course.attendance import status_of
from ..models import CourseSession
from ..store import persons, records
from ..store.audit import AuditEntry
from ..store.persons import Person
from ..store.records import MergeEntry, RecordCourse


@dataclass(frozen=True, slots=True)
class CourseLine:
    course: RecordCourse
    sessions: list[tuple[CourseSession, str, datetime | None]]  # session, status, checked in at

    @property
    def attended(self) -> int:
        return sum(1 for _s, status, _t in self.sessions if status in ("present", "late"))

    @property
    def late(self) -> int:
        return sum(1 for _s, status, _t in self.sessions if status == "late")


@dataclass(frozen=True, slots=True)
class Role:
    """A unit and position held from a course's date on (until the next change)."""

    since: date
    unit: str
    position: str


@dataclass(frozen=True, slots=True)
class Record:
    person: Person
    courses: list[CourseLine]
    roles: list[Role]
    merges: list[MergeEntry]
    audit: list[AuditEntry]

    @property
    def certificates(self) -> list[RecordCourse]:
        return [line.course for line in self.courses if line.course.certificate_code]


def read_record(conn: sqlite3.Connection, person_id: int, now: datetime, *, organiser_view: bool = True) -> Record | None:
    """The record of a standing person (a merged record reads as the one it was merged into); None if unknown.
    organiser_view=False leaves out merges and the audit (the participant's own page)."""
    person = persons.get_person(conn, person_id)
    if person is None:
        return None
    if person.merged_into is not None:
        return read_record(conn, person.merged_into, now, organiser_view=organiser_view)
    found = records.list_record_courses(conn, person.id)
    sessions = records.list_sessions_of(conn, sorted({c.course_id for c in found}))
    rows = {(r.enrolment_id, r.session_id): r for r in records.list_statuses_of(conn, [c.enrolment_id for c in found])}
    lines = []
    for course in found:
        line = []
        for s in sessions.get(course.course_id, []):
            row = rows.get((course.enrolment_id, s.id))
            line.append((s, row.status if row else status_of(s, None, now), row.checked_in_at if row else None))
        lines.append(CourseLine(course, line))
    return Record(person, lines, roles_over_time(found), records.list_merges(conn, person.id) if organiser_view else [],
                  records.list_person_audit(conn, person.id) if organiser_view else [])


def read_own_record(conn: sqlite3.Connection, person_id: int, now: datetime) -> Record | None:
    """The participant's own view: courses and certificates, no merges or audit."""
    return read_record(conn, person_id, now, organiser_view=False)


def roles_over_time(found: list[RecordCourse]) -> list[Role]:
    """Each change of unit or position, in course order (the first course gives the first role)."""
    roles: list[Role] = []
    for course in sorted(found, key=lambda c: (c.course_date, c.course_id)):
        if not roles or (roles[-1].unit, roles[-1].position) != (course.unit, course.position):
            roles.append(Role(course.course_date, course.unit, course.position))
    return roles
