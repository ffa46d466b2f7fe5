"""Organiser corrections, each one transaction that also writes the audit trail: a check-in by hand
and a walk-in registered at the door. Check-ins go through scanning.record_scan_tx like every scan."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import datetime

from ..door import scanning
from ..door.scanning import ScanInput, ScanOutcome
from ..store import participants, people, scans
from ..store.audit import enrolment_subject
from ..store.participants import PersonLink
from ..store.people import PersonDetails


@dataclass(frozen=True, slots=True)
class Correction:
    """Who corrects what, and when."""

    course_id: int
    organiser_id: int
    now: datetime


@dataclass(frozen=True, slots=True)
class WalkIn:
    details: PersonDetails
    session_id: int | None  # None: register only
    replaces: PersonLink | None = None  # the enrolled cadre this substitute came instead of


def manual_checkin_tx(
    conn: sqlite3.Connection, who: Correction, enrolment_id: int, session_id: int, session_title: str, reason: str,
    arrived_at: datetime | None,
) -> ScanOutcome:
    """Check a person in by hand. With `arrived_at` the rule judges that time (on time / late) instead of now."""
    outcome = scanning.record_scan_tx(conn, ScanInput(
        course_id=who.course_id, method="manual", enrolment_id=enrolment_id, session_id=session_id,
        organiser_id=who.organiser_id, note=reason, device_time=arrived_at), who.now)
    scans.insert_audit(conn, who.course_id, "manual_checkin", who.now, organiser_id=who.organiser_id,
                       subject=enrolment_subject(enrolment_id), detail=f"{session_title}: {outcome.reason}. {reason}")
    return outcome


def walk_in_tx(conn: sqlite3.Connection, who: Correction, walk_in: WalkIn) -> tuple[int, ScanOutcome | None]:
    """Add the person to the course with a badge, record whom they replace, and check them in to the
    session (if one is given); returns the enrolment id and the check-in's outcome."""
    participant_id = people.insert_participant(conn, walk_in.details, who.now)
    enrolment_id = people.enrol(conn, who.course_id, participant_id, who.now)
    note = "walk-in"
    if walk_in.replaces is not None:
        participants.insert_substitution(conn, enrolment_id, walk_in.replaces.enrolment_id, who.now)
        note = f"substitute for {walk_in.replaces.full_name} (enrolment {walk_in.replaces.enrolment_id})"
    scans.insert_audit(conn, who.course_id, "walk_in", who.now, organiser_id=who.organiser_id,
                       subject=enrolment_subject(enrolment_id), detail=f"{walk_in.details.full_name}; {note}")
    outcome = None
    if walk_in.session_id is not None:
        outcome = scanning.record_scan_tx(conn, ScanInput(
            course_id=who.course_id, method="manual", enrolment_id=enrolment_id, session_id=walk_in.session_id,
            organiser_id=who.organiser_id, note="walk-in"), who.now)
    return enrolment_id, outcome
