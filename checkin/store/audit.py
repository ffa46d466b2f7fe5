"""Reading the audit trail: who changed what by hand, when and why (written with scans.insert_audit)."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from ..clock import from_db


@dataclass(frozen=True, slots=True)
class AuditEntry:
    id: int
    at: datetime
    action: str
    subject: str
    detail: str
    organiser: str  # display name, "" when a device acted
    device: str  # device label, "" when an organiser acted


def enrolment_subject(enrolment_id: int) -> str:
    """The subject under which corrections about one person are recorded."""
    return f"enrolment {enrolment_id}"


def scan_subject(scan_id: int) -> str:
    return f"scan {scan_id}"


_SELECT = (
    "SELECT a.id, a.at, a.action, a.subject, a.detail, COALESCE(o.display_name, ''), COALESCE(d.label, '')"
    " FROM audit_log a LEFT JOIN organisers o ON o.id = a.organiser_id LEFT JOIN devices d ON d.id = a.device_id"
)


def _entry(r) -> AuditEntry:
    return AuditEntry(r[0], from_db(r[1]), r[2], r[3], r[4], r[5], r[6])


def list_audit(
    conn: sqlite3.Connection, course_id: int, subjects: Sequence[str] | None = None, limit: int = 10_000
) -> list[AuditEntry]:
    """The course's audit entries, newest first; only those about `subjects` when given."""
    if subjects is not None:
        if not subjects:
            return []
        marks = ", ".join("?" for _ in subjects)
        rows = conn.execute(
            _SELECT + f" WHERE a.course_id = ? AND a.subject IN ({marks}) ORDER BY a.id DESC LIMIT ?",
            (course_id, *subjects, limit),
        )
    else:
        rows = conn.execute(_SELECT + " WHERE a.course_id = ? ORDER BY a.id DESC LIMIT ?", (course_id, limit))
    return [_entry(r) for r in rows]


def list_audit_log(conn: sqlite3.Connection, course_id: int) -> list[AuditEntry]:
    """The course's whole audit trail in the order it happened, for the export."""
    return [_entry(r) for r in conn.execute(_SELECT + " WHERE a.course_id = ? ORDER BY a.id", (course_id,))]
