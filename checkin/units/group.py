"""Group check-in (a course setting, off by default): an usher scans the badge of a unit's leader and sees that
unit's cadres for the session as tick boxes; each tick is a check-in through the one scan function (method
"group", its note and group_checkins naming the leader), audited in the scan log and undone like any other."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import datetime

from ..course import attendance
from ..door import rules, scanning
from ..door.scanning import ScanInput, ScanOutcome
from ..errors import Problem
from ..models import CourseSession
from ..store import courses, people, units


@dataclass(frozen=True, slots=True)
class GroupCadre:
    participant_id: int  # the enrolment, as the API names it
    name: str
    position: str
    status: str  # present | late | excused | absent | pending


@dataclass(frozen=True, slots=True)
class GroupView:
    unit: str
    leader: str
    leader_enrolment_id: int
    session: CourseSession | None
    cadres: tuple[GroupCadre, ...]

    def as_json(self) -> dict:
        return {
            "unit": self.unit, "leader": self.leader,
            "session": {"id": self.session.id, "title": self.session.title} if self.session else None,
            "cadres": [{"participant_id": c.participant_id, "name": c.name, "position": c.position,
                        "status": c.status} for c in self.cadres],
        }


NOT_LEADER = "This badge is not a unit leader's badge on this course: scan each person's badge."


def read_group(conn: sqlite3.Connection, course_id: int, code: str, session_id: int | None, now: datetime
               ) -> GroupView:
    """The unit whose leader holds `code`, with each cadre's status in the session (given, or the one on now)."""
    if not units.get_summons(conn, course_id).group_checkin:
        raise Problem(409, "group_checkin_off", "Group check-in is off for this course: scan each person's badge.")
    holder = people.get_badge_holder(conn, code)
    if holder is None or holder.revoked or holder.course_id != course_id:
        raise Problem(404, "not_a_group_leader", NOT_LEADER)
    row = conn.execute(
        "SELECT n.id, n.summoned_unit_id FROM nominees n JOIN summoned_units s ON s.id = n.summoned_unit_id"
        " WHERE n.enrolment_id = ? AND n.state = 'enrolled' AND s.course_id = ? AND s.withdrawn_at IS NULL"
        " AND s.leader_nominee_id = n.id", (holder.enrolment_id, course_id)).fetchone()
    if row is None:
        raise Problem(404, "not_a_group_leader", NOT_LEADER)
    summoned = units.get_summoned_unit(conn, course_id, row[1])
    sessions = courses.list_sessions(conn, course_id)
    if session_id is not None:
        session = next((s for s in sessions if s.id == session_id), None)
        if session is None:
            raise Problem(422, "unknown_session", "This session is not a session of this course.", field="session_id")
    else:
        session = rules.pick_session(sessions, now)
    ids = units.enrolled_ids(units.list_nominees(conn, summoned.id))
    roster = people.list_roster_entries(conn, course_id, ids)
    rows = {r.enrolment_id: r for r in units.list_unit_attendance(conn, summoned.id)
            if session is not None and r.session_id == session.id}
    cadres = tuple(
        GroupCadre(p.enrolment_id, p.full_name, p.position,
                   attendance.status_of(session, rows.get(p.enrolment_id), now) if session else "pending")
        for p in sorted(roster, key=lambda p: (p.enrolment_id != holder.enrolment_id, p.enrolment_id)))
    return GroupView(summoned.name, holder.full_name, holder.enrolment_id, session, cadres)


def group_checkin_tx(conn: sqlite3.Connection, course_id: int, device_id: int, code: str, enrolment_id: int,
                     session_id: int | None, nonce: str | None, now: datetime) -> ScanOutcome:
    """One tick: check in one cadre of the leader's unit, through record_scan_tx, recording the leader."""
    view = read_group(conn, course_id, code, session_id, now)
    if not any(c.participant_id == enrolment_id for c in view.cadres):
        raise Problem(404, "participant_not_found", "This person is not one of the leader's unit on this course.")
    outcome = scanning.record_scan_tx(conn, ScanInput(
        course_id=course_id, method="group", enrolment_id=enrolment_id,
        session_id=view.session.id if view.session else None, nonce=nonce, device_id=device_id,
        note=f"group check-in, leader: {view.leader}"), now)
    if not outcome.replayed and outcome.scan_id:
        units.insert_group_checkin(conn, outcome.scan_id, view.leader_enrolment_id)
    return outcome
