"""The scan log, undos, derived attendance rows, and the event log for live views."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, replace
from datetime import datetime

from ..clock import from_db, to_db
from ..models import STATED_TIME_METHODS, Checkin

CODE_STORED_MAX = 512  # longer codes are refused before they get here


@dataclass(slots=True)  # not frozen: made on every scan, and a frozen __init__ costs twice
class NewScan:
    course_id: int
    session_id: int | None
    device_id: int | None
    organiser_id: int | None
    enrolment_id: int | None
    code: str
    method: str
    reason: str
    accepted: bool
    first_scan_id: int | None
    nonce: str | None
    scanned_at: datetime
    recorded_at: datetime
    note: str = ""
    event_seq: int | None = None  # a check-in's live event number: the scan row is the event


@dataclass(frozen=True, slots=True)
class ScanRow:
    id: int
    course_id: int
    session_id: int | None
    device_id: int | None
    organiser_id: int | None
    enrolment_id: int | None
    code: str
    method: str
    reason: str
    accepted: bool
    first_scan_id: int | None
    nonce: str | None
    scanned_at: datetime
    recorded_at: datetime
    note: str
    undone_at: datetime | None


@dataclass(frozen=True, slots=True)
class AttendanceRow:
    enrolment_id: int
    session_id: int
    status: str
    scan_id: int | None
    checked_in_at: datetime | None
    note: str
    checked_out_at: datetime | None = None  # an exit scan's departure (exit scans only)


# The status reports show: a check-in whose exit scan left the person below the session's minimum share is
# left_early (the stored status stays present / late: the check-in still counts at the door).
STATUS_SQL = "CASE WHEN a.left_early = 1 AND a.status IN ('present', 'late') THEN 'left_early' ELSE a.status END"


@dataclass(slots=True)  # not frozen: made on every scan, and a frozen __init__ costs twice
class Event:
    """A live-view event. `id` is the course's event number (courses.event_seq): numbers follow commit order
    (PENDING: a check-in committed on PostgreSQL whose number comes after the commit, see insert_checkin)."""

    id: int
    course_id: int
    kind: str
    payload: dict
    at: datetime


_SCAN = (
    "SELECT s.id, s.course_id, s.session_id, s.device_id, s.organiser_id, s.enrolment_id, s.code, s.method,"
    " s.reason, s.accepted, s.first_scan_id, s.nonce, s.scanned_at, s.recorded_at, s.note, u.undone_at"
    " FROM scans s LEFT JOIN scan_undos u ON u.scan_id = s.id"
)


def _scan(row: sqlite3.Row | None) -> ScanRow | None:
    if row is None:
        return None
    values = list(row)
    values[9] = bool(values[9])
    values[12], values[13], values[15] = from_db(values[12]), from_db(values[13]), from_db(values[15])
    return ScanRow(*values)


_INSERT_SCAN = (
    "INSERT INTO scans (course_id, session_id, device_id, organiser_id, enrolment_id, code, method, reason,"
    " accepted, first_scan_id, nonce, scanned_at, recorded_at, note, event_seq)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


def insert_scan(conn: sqlite3.Connection, scan: NewScan, event_seq: int | None = None) -> int:
    """Store a scan; event_seq: the live-event number of an accepted check-in (insert_checkin)."""
    values = (
        scan.course_id, scan.session_id, scan.device_id, scan.organiser_id, scan.enrolment_id,
        scan.code[:CODE_STORED_MAX], scan.method, scan.reason, int(scan.accepted), scan.first_scan_id,
        scan.nonce, to_db(scan.scanned_at), to_db(scan.recorded_at), scan.note,
        scan.event_seq if event_seq is None else event_seq,
    )
    if _is_postgres(conn):
        return conn.execute(_INSERT_SCAN + " RETURNING id", values).fetchone()[0]
    return conn.execute(_INSERT_SCAN, values).lastrowid  # SQLite: one step, no RETURNING


def get_scan(conn: sqlite3.Connection, scan_id: int) -> ScanRow | None:
    return _scan(conn.execute(_SCAN + " WHERE s.id = ?", (scan_id,)).fetchone())


def get_scan_by_nonce(conn: sqlite3.Connection, device_id: int, nonce: str) -> ScanRow | None:
    return _scan(conn.execute(_SCAN + " WHERE s.device_id = ? AND s.nonce = ?", (device_id, nonce)).fetchone())


def list_scans(conn: sqlite3.Connection, course_id: int, after_id: int = 0, limit: int = 1000) -> list[ScanRow]:
    rows = conn.execute(_SCAN + " WHERE s.course_id = ? AND s.id > ? ORDER BY s.id LIMIT ?", (course_id, after_id, limit))
    return [_scan(r) for r in rows]


def rule_time(method: str, scanned_at: datetime, recorded_at: datetime) -> datetime:
    """The time a scan was decided on: its stated time for STATED_TIME_METHODS, else when it arrived."""
    return scanned_at if method in STATED_TIME_METHODS else recorded_at


def get_checkin(conn: sqlite3.Connection, enrolment_id: int, session_id: int) -> Checkin | None:
    """The accepted scan that counts for this person in this session (an excuse is not a check-in)."""
    row = conn.execute(
        "SELECT scan_id, checked_in_at FROM attendance WHERE enrolment_id = ? AND session_id = ?"
        " AND status IN ('present', 'late')",
        (enrolment_id, session_id),
    ).fetchone()
    return Checkin(row[0], from_db(row[1])) if row else None


def upsert_attendance(
    conn: sqlite3.Connection, enrolment_id: int, session_id: int, status: str, scan_id: int | None,
    checked_in_at: datetime | None, now: datetime, note: str = "",
) -> None:
    """Set the derived attendance of one person in one session (the row is unique per pair)."""
    conn.execute(
        "INSERT INTO attendance (enrolment_id, session_id, status, scan_id, checked_in_at, note, updated_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)"
        " ON CONFLICT (enrolment_id, session_id) DO UPDATE SET status = excluded.status,"
        " scan_id = excluded.scan_id, checked_in_at = excluded.checked_in_at, note = excluded.note,"
        " updated_at = excluded.updated_at",
        (enrolment_id, session_id, status, scan_id, to_db(checked_in_at) if checked_in_at else None, note, to_db(now)),
    )


def list_standing_checkins(conn: sqlite3.Connection, enrolment_id: int, session_id: int) -> list[ScanRow]:
    """Accepted, not undone scans of one person in one session: the one that counts and any it superseded."""
    rows = conn.execute(_SCAN + " WHERE s.enrolment_id = ? AND s.session_id = ? AND s.accepted = 1"
                        " AND s.reason IN ('checked_in', 'checked_in_late')"  # an exit scan is no check-in
                        " AND u.undone_at IS NULL ORDER BY s.id", (enrolment_id, session_id))
    return [_scan(r) for r in rows]


def drop_checkin(conn: sqlite3.Connection, enrolment_id: int, session_id: int, now: datetime) -> None:
    """No check-in counts any more: back to the excuse it had replaced, if there was one, else no row."""
    conn.execute(
        "UPDATE attendance SET status = 'excused', scan_id = NULL, checked_in_at = NULL, note = excuse,"
        " checked_out_at = NULL, checkout_scan_id = NULL, left_early = 0,"
        " updated_at = ? WHERE enrolment_id = ? AND session_id = ? AND excuse IS NOT NULL",
        (to_db(now), enrolment_id, session_id),
    )
    conn.execute("DELETE FROM attendance WHERE enrolment_id = ? AND session_id = ? AND excuse IS NULL",
                 (enrolment_id, session_id))


def insert_undo(
    conn: sqlite3.Connection, scan_id: int, device_id: int | None, organiser_id: int | None, reason: str, now: datetime
) -> int:
    return conn.execute(
        "INSERT INTO scan_undos (scan_id, device_id, organiser_id, reason, undone_at) VALUES (?, ?, ?, ?, ?) RETURNING id",
        (scan_id, device_id, organiser_id, reason, to_db(now)),
    ).fetchone()[0]


def list_attendance(conn: sqlite3.Connection, course_id: int, *, numbered: bool = False) -> list[AttendanceRow]:
    """The course's attendance rows. numbered: without the check-ins still waiting for their live event number
    (PostgreSQL, see insert_checkin), so that, read in one snapshot with get_last_event_id, the rows are exactly
    what the events up to that number made: the stream that resumes there brings the waiting ones."""
    sql = (f"SELECT a.enrolment_id, a.session_id, {STATUS_SQL}, a.scan_id, a.checked_in_at, a.note, a.checked_out_at"
           " FROM attendance a JOIN sessions s ON s.id = a.session_id WHERE s.course_id = ?")
    if numbered and _is_postgres(conn):  # the waiting ones, from the partial index scans_event_pending (few rows)
        sql += (" AND (a.scan_id IS NULL OR a.scan_id NOT IN"
                " (SELECT id FROM scans WHERE course_id = ? AND event_pending = 1))")
        rows = conn.execute(sql, (course_id, course_id))
    else:
        rows = conn.execute(sql, (course_id,))
    return [AttendanceRow(r[0], r[1], r[2], r[3], from_db(r[4]), r[5], from_db(r[6])) for r in rows]


def next_event_seq(conn: sqlite3.Connection, course_id: int) -> int:
    """The course's next live-event number, taken in the caller's transaction (an event of the events table:
    an undo, a correction, a departure, an excuse; a check-in on PostgreSQL is numbered by number_checkins).

    Taking it locks the course's row until the commit (on PostgreSQL; SQLite has one writer anyway), so a
    transaction gets its number only once the one before it is visible: a reader that has seen event N of a
    course has seen every event before it. Take it late in the transaction: scans of the course wait on it.

    On PostgreSQL the course's committed check-ins still waiting for their numbers are numbered first, in the
    same transaction: an undo, a correction or a departure always comes after the check-in it is about."""
    if _is_postgres(conn):
        while len(number_checkins(conn, course_id)) == NUMBER_AT_ONCE:
            pass
    return conn.execute(
        "UPDATE courses SET event_seq = event_seq + 1 WHERE id = ? RETURNING event_seq", (course_id,)
    ).fetchone()[0]


def _is_postgres(conn) -> bool:
    return getattr(conn, "dialect", "sqlite") == "postgresql"


# The Event id of a check-in committed without its number yet (PostgreSQL): publishing it asks the relay to
# number the course's waiting check-ins (live/relay.py); no stream ever sees it. Event numbers start at 1.
PENDING = 0
NUMBER_AT_ONCE = 500  # check-ins numbered by one statement; number_checkins is called again for more

# A check-in on PostgreSQL: the scan row (no event number yet: event_pending) and the attendance, one statement.
_CHECKIN_PG = (
    "WITH s AS (INSERT INTO scans (course_id, session_id, device_id, organiser_id, enrolment_id, code, method, reason,"
    " accepted, first_scan_id, nonce, scanned_at, recorded_at, note, event_pending)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1) RETURNING id),"
    " a AS (INSERT INTO attendance (enrolment_id, session_id, status, scan_id, checked_in_at, note, updated_at)"
    " VALUES (?, ?, ?, (SELECT id FROM s), ?, '', ?)"
    " ON CONFLICT (enrolment_id, session_id) DO UPDATE SET status = excluded.status,"
    " scan_id = excluded.scan_id, checked_in_at = excluded.checked_in_at, note = excluded.note,"
    " updated_at = excluded.updated_at)"
    " SELECT id FROM s"
)


# The same without a transaction or a lock taken before (PostgreSQL, scanning.record_scan_optimistic): written only if
# the person has no check-in in the session when the statement runs. The attendance goes first: its key
# (enrolment, session) is the guard, an insert that meets another transaction's row waits for it and then sees the
# latest committed version, whatever this statement's snapshot. An excuse is replaced, as by _CHECKIN_PG; the scan
# row, with the id given to the attendance, only goes in when the attendance did. The enrolment is share-locked
# first (the lock the foreign key takes anyway), so a scan or undo that holds it locked is waited for before any row
# is touched. Parameters typed where a SELECT list would otherwise read them as text.
_CHECKIN_PG_GUARDED = (
    "WITH e AS (SELECT id FROM enrolments WHERE id = ? FOR KEY SHARE),"
    " a AS (INSERT INTO attendance (enrolment_id, session_id, status, scan_id, checked_in_at, note, updated_at)"
    " SELECT e.id, ?::bigint, ?, nextval(pg_get_serial_sequence('scans', 'id')), ?, '', ? FROM e"
    " ON CONFLICT (enrolment_id, session_id) DO UPDATE SET status = excluded.status,"
    " scan_id = excluded.scan_id, checked_in_at = excluded.checked_in_at, note = excluded.note,"
    " updated_at = excluded.updated_at WHERE attendance.status NOT IN ('present', 'late')"
    " RETURNING scan_id)"
    " INSERT INTO scans (id, course_id, session_id, device_id, organiser_id, enrolment_id, code, method, reason,"
    " accepted, first_scan_id, nonce, scanned_at, recorded_at, note, event_pending)"
    " SELECT a.scan_id, ?::bigint, ?::bigint, ?::bigint, ?::bigint, ?::bigint, ?, ?, ?, ?::integer, ?::bigint, ?, ?,"
    " ?, ?, 1 FROM a RETURNING id"
)


def insert_checkin_if_first(conn: sqlite3.Connection, scan: NewScan, status: str, checked_in_at: datetime,
                            now: datetime) -> int | None:
    """insert_checkin on PostgreSQL in one statement of its own, nothing locked before it: the scan id, or None
    when the person had a check-in in the session by then (nothing is written; decide again, locked)."""
    row = conn.execute(_CHECKIN_PG_GUARDED, (
        scan.enrolment_id, scan.session_id, status, to_db(checked_in_at), to_db(now),
        scan.course_id, scan.session_id, scan.device_id, scan.organiser_id, scan.enrolment_id,
        scan.code[:CODE_STORED_MAX], scan.method, scan.reason, int(scan.accepted), scan.first_scan_id,
        scan.nonce, to_db(scan.scanned_at), to_db(scan.recorded_at), scan.note,
    )).fetchone()
    return None if row is None else row[0]


def insert_checkin(
    conn: sqlite3.Connection, scan: NewScan, status: str, checked_in_at: datetime, now: datetime
) -> tuple[int, int]:
    """A plain accepted check-in: the scan row that is its live event, and the person's attendance.
    Returns (scan id, event number).

    SQLite (one writer): the course's next event number is taken here (next_event_seq), three plain statements.
    PostgreSQL: no number yet (PENDING), so the transaction does not touch the course's row and the check-ins of
    one course commit side by side instead of one WAL flush after the other; the row waits (event_pending) for
    number_checkins, which the relay runs right after the commit (the caller publishes the PENDING event). The
    person's enrolment, locked by the caller, still decides two scans of one badge one after the other."""
    if _is_postgres(conn):
        row = conn.execute(_CHECKIN_PG, (
            scan.course_id, scan.session_id, scan.device_id, scan.organiser_id, scan.enrolment_id,
            scan.code[:CODE_STORED_MAX], scan.method, scan.reason, int(scan.accepted), scan.first_scan_id,
            scan.nonce, to_db(scan.scanned_at), to_db(scan.recorded_at), scan.note,
            scan.enrolment_id, scan.session_id, status, to_db(checked_in_at), to_db(now),
        )).fetchone()
        return row[0], PENDING
    seq = next_event_seq(conn, scan.course_id)
    scan_id = insert_scan(conn, scan, seq)
    upsert_attendance(conn, scan.enrolment_id, scan.session_id, status, scan_id, checked_in_at, now)
    return scan_id, seq


# Number the course's waiting check-ins, oldest first, after the course's current number; move the course's number
# past them; return their events (names read in the same statement). Run after the course's row is locked.
_NUMBER_PG = (
    "WITH waiting AS (SELECT id, row_number() OVER (ORDER BY id) AS n FROM scans"
    " WHERE course_id = ? AND event_pending = 1 ORDER BY id LIMIT ?),"
    " numbered AS (UPDATE scans s SET event_seq = ?::bigint + waiting.n, event_pending = NULL FROM waiting"
    " WHERE s.id = waiting.id"
    " RETURNING s.event_seq, s.recorded_at, s.id, s.session_id, s.enrolment_id, s.reason, s.method, s.scanned_at),"
    " moved AS (UPDATE courses SET event_seq = ?::bigint + (SELECT count(*) FROM waiting)"
    " WHERE id = ? AND EXISTS (SELECT 1 FROM waiting))"
    " SELECT n.event_seq, n.recorded_at, n.id, n.session_id, n.enrolment_id, p.full_name, COALESCE(u.name, ''),"
    " n.reason, n.method, n.scanned_at"
    " FROM numbered n JOIN enrolments e ON e.id = n.enrolment_id JOIN participants p ON p.id = e.participant_id"
    " LEFT JOIN units u ON u.id = p.unit_id ORDER BY n.event_seq"
)


def number_checkins(conn: sqlite3.Connection, course_id: int, limit: int = NUMBER_AT_ONCE) -> list[Event]:
    """Give the course's committed check-ins that wait for their live event number (PostgreSQL, see
    insert_checkin) consecutive numbers, in the order of their scan ids, in the caller's transaction; returns
    their events, in number order (at most `limit`: call again while it returns that many).

    The course's row is locked first and stays locked to the commit, as next_event_seq's: numbers appear in
    commit order, and two instances numbering one course at once take turns (the second finds what is left).
    FOR NO KEY UPDATE, the lock an UPDATE takes: a scan's foreign-key check on the course (KEY SHARE) passes it.
    The lock comes in a statement of its own: the numbering statement, started once the lock is held, sees
    every check-in the previous holder numbered. One numbering transaction serves many check-ins: their WAL
    flushes were their own, in parallel; this one is shared. SQLite numbers each check-in as it is written:
    nothing ever waits there."""
    if not _is_postgres(conn):
        return []
    row = conn.execute("SELECT event_seq FROM courses WHERE id = ? FOR NO KEY UPDATE", (course_id,)).fetchone()
    if row is None:
        return []
    base = row[0]
    events = []
    for seq, at, scan_id, session_id, enrolment_id, name, unit, reason, method, scanned_at in conn.execute(
        _NUMBER_PG, (course_id, limit, base, base, course_id)
    ):
        recorded_at = from_db(at)
        events.append(checkin_event(seq, course_id, scan_id, session_id, enrolment_id, name, unit, reason, method,
                                    rule_time(method, from_db(scanned_at), recorded_at), recorded_at))
    return events


def courses_with_waiting_checkins(conn: sqlite3.Connection) -> list[int]:
    """Courses with committed check-ins still waiting for their numbers (PostgreSQL): an instance that
    committed them stopped before numbering them. The relay's periodic sweep numbers them."""
    if not _is_postgres(conn):
        return []
    return [r[0] for r in conn.execute("SELECT DISTINCT course_id FROM scans WHERE event_pending = 1")]


def insert_event(conn: sqlite3.Connection, course_id: int, kind: str, payload: dict, now: datetime) -> Event:
    """Record a live-view event in the caller's transaction; publish it only after the commit.
    (A check-in's event is its scan row instead: see checkin_event.)"""
    seq = next_event_seq(conn, course_id)
    conn.execute(
        "INSERT INTO events (course_id, seq, kind, payload, at) VALUES (?, ?, ?, ?, ?)",
        (course_id, seq, kind, json.dumps(payload, ensure_ascii=False, separators=(",", ":")), to_db(now)),
    )
    return Event(seq, course_id, kind, payload, now)


def checkin_event(
    seq: int, course_id: int, scan_id: int, session_id: int, enrolment_id: int, name: str, unit: str, reason: str,
    method: str, at: datetime, recorded_at: datetime,
) -> Event:
    """The live event of an accepted scan, built from what its scan row holds (when written and when replayed)."""
    payload = {
        "scan_id": scan_id, "session_id": session_id, "enrolment_id": enrolment_id, "name": name, "unit": unit,
        "status": "present" if reason == "checked_in" else "late", "method": method,
        "at": at.isoformat().replace("+00:00", "Z"),
    }
    return Event(seq, course_id, "checkin", payload, recorded_at)


# Events of the course after a number, oldest first: the events table and the check-ins' scan rows, merged.
_EVENTS = (
    "SELECT seq, kind, payload, at, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL"
    " FROM events WHERE course_id = ? AND seq > ?"
    " UNION ALL"
    " SELECT s.event_seq, 'checkin', NULL, s.recorded_at, s.id, s.session_id, s.enrolment_id, p.full_name,"
    " COALESCE(u.name, ''), s.reason, s.method, s.scanned_at"
    " FROM scans s JOIN enrolments e ON e.id = s.enrolment_id JOIN participants p ON p.id = e.participant_id"
    " LEFT JOIN units u ON u.id = p.unit_id"
    " WHERE s.course_id = ? AND s.event_seq > ?"
    " ORDER BY 1 LIMIT ?"
)


def list_events(conn: sqlite3.Connection, course_id: int, after_id: int, limit: int = 500) -> list[Event]:
    """The course's events after number `after_id`, oldest first: what a reconnecting live view missed."""
    events = []
    for seq, kind, payload, at, scan_id, session_id, enrolment_id, name, unit, reason, method, scanned_at in conn.execute(
        _EVENTS, (course_id, after_id, course_id, after_id, limit)
    ):
        if payload is not None:
            events.append(Event(seq, course_id, kind, json.loads(payload), from_db(at)))
        else:
            recorded_at = from_db(at)
            events.append(checkin_event(seq, course_id, scan_id, session_id, enrolment_id, name, unit, reason, method,
                                        rule_time(method, from_db(scanned_at), recorded_at), recorded_at))
    return events


def insert_audit(
    conn: sqlite3.Connection, course_id: int | None, action: str, now: datetime, *, organiser_id: int | None = None,
    device_id: int | None = None, subject: str = "", detail: str = "",
) -> int:
    return conn.execute(
        "INSERT INTO audit_log (course_id, organiser_id, device_id, action, subject, detail, at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
        (course_id, organiser_id, device_id, action, subject, detail, to_db(now)),
    ).fetchone()[0]


def get_last_event_id(conn: sqlite3.Connection, course_id: int) -> int:
    """The course's newest event number (0 when none): where a fresh live view starts listening."""
    row = conn.execute("SELECT event_seq FROM courses WHERE id = ?", (course_id,)).fetchone()
    return row[0] if row else 0
