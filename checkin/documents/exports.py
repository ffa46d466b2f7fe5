"""Exports: rows as generators, and writers that keep Excel from mangling them."""

from __future__ import annotations

import csv
import io
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from ..course.attendance import PersonAttendance, people_attendance
from ..i18n import gettext as _
from ..models import Course, CourseSession
from ..store import courses, people, reports, scans
from ..store.people import BadgeLink
from ..store.audit import AuditEntry
from ..store.reports import CheckinDetail, ScanLogEntry
from ..store.db import read_snapshot

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: object) -> object:
    """A cell that Excel would run as a formula gets a leading apostrophe (OWASP's advice)."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def csv_text(rows: Iterable[Sequence[object]]) -> str:
    """CSV with a UTF-8 BOM so that Excel shows the diacritics; formula-like cells neutralised."""
    buffer = io.StringIO()
    buffer.write("\ufeff")
    writer = csv.writer(buffer, lineterminator="\r\n")
    for row in rows:
        writer.writerow([neutralise(v) for v in row])
    return buffer.getvalue()


def badge_link_rows(links: Iterable[BadgeLink], base_url: str) -> Iterator[list[str]]:
    """Mail merge: one row per participant, with the personal badge link to send."""
    yield ["full_name", "unit", "position", "phone", "email", "badge_link", "code"]
    for link in links:
        yield [link.full_name, link.unit, link.position, link.phone, link.email,
               f"{base_url.rstrip('/')}/b/{link.code}", link.code]


# English sources of the labels people read in the workbook; the CSV keeps the stable codes for scripts.
STATUS_LABELS = {
    "present": "On time", "late": "Late", "excused": "Excused", "absent": "Absent", "pending": "Not yet arrived",
    "left_early": "Left early",
}
METHOD_LABELS = {
    "camera": "QR scan", "search": "Name search", "api": "API", "sync": "Offline, synced later",
    "manual": "Entered by an organiser", "paper": "Paper sign-in sheet",
    "group": "Group check-in", "room_code": "Room code (own phone)", "": "",
}


def status_label(status: str) -> str:
    return _(STATUS_LABELS.get(status, status))


def method_label(method: str) -> str:
    return _(METHOD_LABELS[method]) if method in METHOD_LABELS else method


@dataclass(frozen=True, slots=True)
class AttendanceReport:
    """Everything an attendance export shows, read once: the course, its sessions, each person's statuses,
    and how each check-in was recorded."""

    course: Course
    sessions: list[CourseSession]
    people: list[PersonAttendance]
    details: dict[tuple[int, int], CheckinDetail]  # (enrolment id, session id) -> how it was recorded
    generated_at: datetime
    unit_results: object = None  # units.results.Results when the course summoned units (the result notice sheet)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.course.time_zone)

    def local(self, moment: datetime | None) -> datetime | None:
        """A naive local time, as spreadsheets want it (they have no time zones)."""
        return moment.astimezone(self.zone).replace(tzinfo=None) if moment else None


def load_report(conn: sqlite3.Connection, course_id: int, now: datetime) -> AttendanceReport:
    """Read a course's attendance for export (a read transaction, so the figures agree with each other)."""
    with read_snapshot(conn):
        course = courses.get_course(conn, course_id)
        sessions = courses.list_sessions(conn, course_id)
        result = people_attendance(
            sessions, people.list_roster(conn, course_id), scans.list_attendance(conn, course_id), now
        )
        details = {(d.enrolment_id, d.session_id): d for d in reports.list_checkin_details(conn, course_id)}
        from ..units.results import read_results  # the units wing's sheet; imported here to keep the wings apart

        unit_results = read_results(conn, course_id, now)
    return AttendanceReport(course, sessions, result, details, now, unit_results if unit_results.units else None)


ATTENDANCE_COLUMNS = [
    "full_name", "unit", "position", "session", "session_start", "status", "checked_in_at", "method", "device", "note",
]


def attendance_rows(report: AttendanceReport) -> Iterator[list[object]]:
    """One row per participant and session, session by session (the CSV export)."""
    yield list(ATTENDANCE_COLUMNS)
    for session in report.sessions:
        start = report.local(session.starts_at).strftime("%Y-%m-%d %H:%M")
        for person in report.people:
            detail = report.details.get((person.person.enrolment_id, session.id))
            at = report.local(person.times[session.id])
            yield [
                person.person.full_name, person.person.unit, person.person.position, session.title, start,
                person.statuses[session.id], at.strftime("%Y-%m-%d %H:%M:%S") if at else "",
                detail.method if detail else "", detail.device if detail else "", detail.note if detail else "",
            ]


SCAN_LOG_COLUMNS = [
    "scan_id", "recorded_at", "scanned_at", "session", "full_name", "unit", "code_start", "method", "reason",
    "accepted", "device", "organiser", "undone_at", "note",
]


def scan_log_rows(entries: Iterable[ScanLogEntry], zone: ZoneInfo) -> Iterator[list[object]]:
    """Every scan attempt with its reason code, in local time."""
    yield list(SCAN_LOG_COLUMNS)
    for e in entries:
        yield [
            e.id, _local_text(e.recorded_at, zone), _local_text(e.scanned_at, zone), e.session, e.full_name, e.unit,
            e.code_prefix, e.method, e.reason, "yes" if e.accepted else "no", e.device, e.organiser,
            _local_text(e.undone_at, zone), e.note,
        ]


AUDIT_COLUMNS = ["id", "at", "action", "subject", "detail", "organiser", "device"]


def audit_rows(entries: Iterable[AuditEntry], zone: ZoneInfo) -> Iterator[list[object]]:
    yield list(AUDIT_COLUMNS)
    for e in entries:
        yield [e.id, _local_text(e.at, zone), e.action, e.subject, e.detail, e.organiser, e.device]


def _local_text(moment: datetime | None, zone: ZoneInfo) -> str:
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S") if moment else ""
