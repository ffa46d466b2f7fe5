"""What every scan from a paired phone reads first, in one statement: the course's rules, the device, and
whether the phone sent this nonce before (a retry). Three small reads are the larger part of a scan's cost
in statements; the scan transaction makes them one (SQLite's writer and PostgreSQL alike)."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from ..models import CourseSession, Device
from . import courses, devices

_CONTEXT = (
    "SELECT c.rules_version, c.after_end, d.id, d.course_id, d.label, d.created_at, d.expires_at, d.revoked_at,"
    " d.last_seen_at, (SELECT s.id FROM scans s WHERE s.device_id = ? AND s.nonce = ?)"
    " FROM courses c LEFT JOIN devices d ON d.id = ? WHERE c.id = ?"
)


@dataclass(slots=True)  # not frozen: made on every scan, and a frozen __init__ costs twice
class ScanContext:
    sessions: list[CourseSession]
    after_end: str
    device: Device | None  # None: no such device (deleted)
    replayed_scan_id: int | None  # the scan this device stored with the same nonce, if any


def scan_context(conn: sqlite3.Connection, course_id: int, device_id: int, nonce: str | None) -> ScanContext | None:
    """None when there is no such course."""
    row = conn.execute(_CONTEXT, (device_id, nonce, device_id, course_id)).fetchone()
    if row is None:
        return None
    sessions, after_end = courses.rules_at_version(conn, course_id, row[0], row[1])
    device = devices.device_of(row[2:9]) if row[2] is not None else None
    return ScanContext(sessions, after_end, device, row[9])
