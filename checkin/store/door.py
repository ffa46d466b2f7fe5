"""What every scan from a paired phone reads first, in one statement: the course's rules, the device, and
whether the phone sent this nonce before (a retry). Three small reads are the larger part of a scan's cost
in statements; the scan transaction makes them one (SQLite's writer and PostgreSQL alike).

On PostgreSQL the same statement also locks the badge holder's enrolment (`lock_code`): every statement there is
a round trip from a pool thread, and the lock is taken anyway, right after. The person's check-in in the session
is still read in a statement of its own, after the lock (see people.get_badge_holder_and_checkin)."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from ..models import BadgeHolder, CourseSession, Device
from . import courses, devices, people

_CONTEXT = (
    "SELECT c.rules_version, c.after_end, d.id, d.course_id, d.label, d.created_at, d.expires_at, d.revoked_at,"
    " d.last_seen_at, (SELECT s.id FROM scans s WHERE s.device_id = ? AND s.nonce = ?)"
    " FROM courses c LEFT JOIN devices d ON d.id = ? WHERE c.id = ?"
)


# PostgreSQL, with the badge's holder locked: people.HOLDER_SELECT ... FOR UPDATE OF e (dialect.for_update's clause),
# as a LATERAL subquery.
_SELECT, _FROM = people.HOLDER_SELECT.split(" FROM ", 1)
_CONTEXT_LOCKING = (
    _CONTEXT.replace(" FROM courses c LEFT JOIN devices d ON d.id = ? WHERE c.id = ?",
                     ", h.code, h.revoked_at, h.enrolment_id, h.course_id, h.course_title, h.participant_id,"
                     " h.full_name, h.unit, h.position"
                     " FROM courses c LEFT JOIN devices d ON d.id = ?"
                     f" LEFT JOIN LATERAL ({_SELECT} FROM {_FROM} WHERE b.code = ? FOR UPDATE OF e) h ON true"
                     " WHERE c.id = ?")
)


@dataclass(slots=True)  # not frozen: made on every scan, and a frozen __init__ costs twice
class ScanContext:
    sessions: list[CourseSession]
    after_end: str
    device: Device | None  # None: no such device (deleted)
    replayed_scan_id: int | None  # the scan this device stored with the same nonce, if any
    holder_locked: bool = False  # lock_code was given: `holder` is read, and its enrolment locked to the commit
    holder: BadgeHolder | None = None  # None with holder_locked: no badge has that code


def scan_context(conn: sqlite3.Connection, course_id: int, device_id: int, nonce: str | None,
                 lock_code: str | None = None) -> ScanContext | None:
    """None when there is no such course. lock_code (PostgreSQL): also the holder of that badge, locked."""
    if lock_code is None:
        row = conn.execute(_CONTEXT, (device_id, nonce, device_id, course_id)).fetchone()
    else:
        row = conn.execute(_CONTEXT_LOCKING, (device_id, nonce, device_id, lock_code, course_id)).fetchone()
    if row is None:
        return None
    sessions, after_end = courses.rules_at_version(conn, course_id, row[0], row[1])
    device = devices.device_of(row[2:9]) if row[2] is not None else None
    if lock_code is None:
        return ScanContext(sessions, after_end, device, row[9])
    holder = None if row[10] is None else BadgeHolder(
        code=row[10], revoked=row[11] is not None, enrolment_id=row[12], course_id=row[13], course_title=row[14],
        participant_id=row[15], full_name=row[16], unit=row[17], position=row[18])
    return ScanContext(sessions, after_end, device, row[9], True, holder)
