"""What every scan from a paired phone reads first, in one statement: the course's rules, the device, and
whether the phone sent this nonce before (a retry). Three small reads are the larger part of a scan's cost
in statements; the scan transaction makes them one (SQLite's writer and PostgreSQL alike).

On PostgreSQL the same statement also reads the badge's holder (`holder_code`), every statement there being a round
trip from a pool thread. In a scan's transaction it locks their enrolment too (the lock is taken anyway, right
after), and the person's check-in in the session is read in a statement of its own, after the lock (see
people.get_badge_holder_and_checkin). A scan tried first without a transaction (`lock=False`, see
scanning.record_scan_optimistic) reads the holder unlocked, with their check-ins in every session of the course."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from ..clock import from_db
from ..models import BadgeHolder, Checkin, CourseSession, Device
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
# PostgreSQL, nothing locked: the holder and their check-ins in the course's sessions, as [[session, scan, at], ...].
_CONTEXT_UNLOCKED = (
    _CONTEXT_LOCKING.replace(" FOR UPDATE OF e) h", ") h")
    .replace(" FROM courses c", ", (SELECT json_agg(json_build_array(a.session_id, a.scan_id, a.checked_in_at))"
             " FROM attendance a WHERE a.enrolment_id = h.enrolment_id AND a.status IN ('present', 'late'))"
             " FROM courses c", 1)
)


@dataclass(slots=True)  # not frozen: made on every scan, and a frozen __init__ costs twice
class ScanContext:
    sessions: list[CourseSession]
    after_end: str
    device: Device | None  # None: no such device (deleted)
    replayed_scan_id: int | None  # the scan this device stored with the same nonce, if any
    has_holder: bool = False  # holder_code was given: `holder` is read (and locked to the commit, unless lock=False)
    holder: BadgeHolder | None = None  # None with has_holder: no badge has that code
    checkins: dict[int, Checkin] | None = None  # lock=False: the holder's check-in in each session, as read


def scan_context(conn: sqlite3.Connection, course_id: int, device_id: int, nonce: str | None,
                 holder_code: str | None = None, *, lock: bool = True) -> ScanContext | None:
    """None when there is no such course. holder_code (PostgreSQL): also the holder of that badge, locked to the
    commit; with lock=False (no transaction), unlocked and with their check-ins."""
    if holder_code is None:
        row = conn.execute(_CONTEXT, (device_id, nonce, device_id, course_id)).fetchone()
    else:
        sql = _CONTEXT_LOCKING if lock else _CONTEXT_UNLOCKED
        row = conn.execute(sql, (device_id, nonce, device_id, holder_code, course_id)).fetchone()
    if row is None:
        return None
    sessions, after_end = courses.rules_at_version(conn, course_id, row[0], row[1])
    device = devices.device_of(row[2:9]) if row[2] is not None else None
    if holder_code is None:
        return ScanContext(sessions, after_end, device, row[9])
    holder = None if row[10] is None else BadgeHolder(
        code=row[10], revoked=row[11] is not None, enrolment_id=row[12], course_id=row[13], course_title=row[14],
        participant_id=row[15], full_name=row[16], unit=row[17], position=row[18])
    checkins = None if lock else {session_id: Checkin(scan_id, from_db(at)) for session_id, scan_id, at in row[19] or ()}
    return ScanContext(sessions, after_end, device, row[9], True, holder, checkins)
