"""Pure attendance: each person's status per session, and per-session and per-unit summaries."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from ..models import CourseSession
from ..store.people import RosterEntry
from ..store.scans import AttendanceRow

STATUSES = ("present", "late", "excused", "absent", "pending", "left_early")
# Came through the door (left_early: and left it before the session's minimum share, with exit scans on).
ARRIVED = ("present", "late", "left_early")


def status_of(session: CourseSession, row: AttendanceRow | None, now: datetime) -> str:
    """present / late / excused / left_early from the derived row; otherwise absent once the session is over,
    and pending (not arrived yet) while it is still to come or under way."""
    if row is not None:
        return row.status
    return "absent" if now >= session.ends_at else "pending"


@dataclass(frozen=True, slots=True)
class PersonAttendance:
    person: RosterEntry
    statuses: dict[int, str]  # session id -> status
    times: dict[int, datetime | None]

    def attended(self) -> int:
        """Sessions present or late (left_early does not count)."""
        return sum(1 for s in self.statuses.values() if s in ("present", "late"))


@dataclass(slots=True)
class Counts:
    enrolled: int = 0
    by_status: dict[str, int] = field(default_factory=lambda: dict.fromkeys(STATUSES, 0))

    @property
    def arrived(self) -> int:
        return self.by_status["present"] + self.by_status["late"] + self.by_status["left_early"]


def people_attendance(
    sessions: Sequence[CourseSession], roster: Iterable[RosterEntry], rows: Iterable[AttendanceRow], now: datetime
) -> list[PersonAttendance]:
    by_pair = {(r.enrolment_id, r.session_id): r for r in rows}
    result = []
    for person in roster:
        statuses, times = {}, {}
        for session in sessions:
            row = by_pair.get((person.enrolment_id, session.id))
            statuses[session.id] = status_of(session, row, now)
            times[session.id] = row.checked_in_at if row else None
        result.append(PersonAttendance(person, statuses, times))
    return result


def session_counts(sessions: Sequence[CourseSession], people: Sequence[PersonAttendance]) -> dict[int, Counts]:
    counts = {s.id: Counts(enrolled=len(people)) for s in sessions}
    for person in people:
        for session_id, status in person.statuses.items():
            counts[session_id].by_status[status] += 1
    return counts


def unit_counts(sessions: Sequence[CourseSession], people: Sequence[PersonAttendance]) -> dict[str, dict[int, Counts]]:
    """unit -> session id -> counts: the unit x session matrix."""
    matrix: dict[str, dict[int, Counts]] = {}
    for person in people:
        row = matrix.setdefault(person.person.unit, {s.id: Counts() for s in sessions})
        for session_id, status in person.statuses.items():
            row[session_id].enrolled += 1
            row[session_id].by_status[status] += 1
    return matrix


MISSING = ("absent", "pending")


@dataclass(frozen=True, slots=True)
class MissingPerson:
    person: RosterEntry
    sessions: tuple[CourseSession, ...]  # the sessions they have not arrived at (excused ones excluded)


def missing_people(
    people: Iterable[PersonAttendance], sessions: Sequence[CourseSession], *, unit: str | None = None,
    session: CourseSession | None = None,
) -> list[MissingPerson]:
    """Who is absent or not yet arrived: in one session (or any, when none is given), within one unit or all."""
    chosen = [session] if session is not None else list(sessions)
    result = []
    for person in people:
        if unit is not None and person.person.unit != unit:
            continue
        missed = tuple(s for s in chosen if person.statuses.get(s.id) in MISSING)
        if missed:
            result.append(MissingPerson(person.person, missed))
    return result
