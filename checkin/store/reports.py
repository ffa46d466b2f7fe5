"""Read-only queries for reports: attendance with how it was recorded, the scan log, the audit trail."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import datetime

from ..clock import from_db
from ..models import CourseSession
from . import courses, people, scans
from .people import RosterEntry
from .scans import AttendanceRow
from .db import read_snapshot


@dataclass(frozen=True, slots=True)
class CheckinDetail:
    """One stored attendance row with the scan behind it (none for an excuse)."""

    enrolment_id: int
    session_id: int
    status: str
    checked_in_at: datetime | None
    method: str
    device: str  # the usher phone's label, or the organiser who entered it
    note: str


def list_checkin_details(conn: sqlite3.Connection, course_id: int) -> list[CheckinDetail]:
    rows = conn.execute(
        f"SELECT a.enrolment_id, a.session_id, {scans.STATUS_SQL}, a.checked_in_at, COALESCE(s.method, ''),"
        " COALESCE(d.label, o.display_name, ''), a.note"
        " FROM attendance a JOIN sessions se ON se.id = a.session_id"
        " LEFT JOIN scans s ON s.id = a.scan_id LEFT JOIN devices d ON d.id = s.device_id"
        " LEFT JOIN organisers o ON o.id = s.organiser_id"
        " WHERE se.course_id = ?",
        (course_id,),
    )
    return [CheckinDetail(r[0], r[1], r[2], from_db(r[3]), r[4], r[5], r[6]) for r in rows]


@dataclass(frozen=True, slots=True)
class ScanLogEntry:
    id: int
    recorded_at: datetime
    scanned_at: datetime
    session: str
    full_name: str
    unit: str
    code_prefix: str  # only the start of what was read: a whole badge code is a bearer secret
    method: str
    reason: str
    accepted: bool
    device: str
    organiser: str
    undone_at: datetime | None
    note: str


def list_scan_log(conn: sqlite3.Connection, course_id: int) -> list[ScanLogEntry]:
    """Every scan attempt of the course, accepted or refused, in the order they were recorded."""
    rows = conn.execute(
        "SELECT s.id, s.recorded_at, s.scanned_at, COALESCE(se.title, ''), COALESCE(p.full_name, ''),"
        " COALESCE(un.name, ''), SUBSTR(s.code, 1, 6), s.method, s.reason, s.accepted, COALESCE(d.label, ''),"
        " COALESCE(o.display_name, ''), u.undone_at, s.note"
        " FROM scans s LEFT JOIN sessions se ON se.id = s.session_id"
        " LEFT JOIN enrolments e ON e.id = s.enrolment_id LEFT JOIN participants p ON p.id = e.participant_id"
        " LEFT JOIN units un ON un.id = p.unit_id LEFT JOIN devices d ON d.id = s.device_id"
        " LEFT JOIN organisers o ON o.id = s.organiser_id LEFT JOIN scan_undos u ON u.scan_id = s.id"
        " WHERE s.course_id = ? ORDER BY s.id",
        (course_id,),
    )
    return [
        ScanLogEntry(r[0], from_db(r[1]), from_db(r[2]), r[3], r[4], r[5], r[6], r[7], r[8], bool(r[9]), r[10],
                     r[11], from_db(r[12]), r[13])
        for r in rows
    ]


@dataclass(frozen=True, slots=True)
class LiveState:
    """Everything a live view starts from, read in one transaction, and the last event it includes."""

    sessions: list[CourseSession]
    roster: list[RosterEntry]
    attendance: list[AttendanceRow]
    last_event_id: int


def read_live_state(conn: sqlite3.Connection, course_id: int) -> LiveState:
    # One snapshot, so the attendance and the last event id agree and the stream resumes exactly after
    # what the snapshot already counts (check-ins still waiting for their numbers are left to the stream).
    with read_snapshot(conn):
        return LiveState(
            sessions=courses.list_sessions(conn, course_id),
            roster=people.list_roster(conn, course_id),
            attendance=scans.list_attendance(conn, course_id, numbered=True),
            last_event_id=scans.get_last_event_id(conn, course_id),
        )
