"""What an usher phone's offline copy is built from (roster, badges, check-ins, change cursors), and the
queue state phones report: the devices page shows it, with the double admissions found at sync."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime

from ..clock import from_db, to_db
from ..door.rules import ACCEPTED

CHUNK = 400  # ids per IN (...) list, well under SQLite's parameter limit


@dataclass(frozen=True, slots=True)
class OfflinePerson:
    enrolment_id: int
    full_name: str
    unit: str
    position: str


@dataclass(frozen=True, slots=True)
class OfflineBadge:
    code: str  # hashed before it leaves the server
    enrolment_id: int
    revoked: bool


@dataclass(frozen=True, slots=True)
class OfflineCheckin:
    enrolment_id: int
    session_id: int
    checked_in_at: datetime | None  # None: no longer checked in (an undo)


@dataclass(frozen=True, slots=True)
class DeviceSyncState:
    device_id: int
    queued: int
    oldest_queued_at: datetime | None
    last_sync_at: datetime | None
    copy_fetched_at: datetime | None
    reported_at: datetime | None


@dataclass(frozen=True, slots=True)
class DoubleAdmission:
    """A badge admitted at two doors in one session: the later scan was admitted offline, the server
    kept the first (both scans stay in the log, attendance counts once)."""

    session_id: int
    enrolment_id: int
    full_name: str
    unit: str
    first_scan_id: int
    first_by: str
    first_at: datetime
    second_scan_id: int
    second_by: str
    second_at: datetime


def _chunks(ids: list[int]) -> Iterator[list[int]]:
    for i in range(0, len(ids), CHUNK):
        yield ids[i:i + CHUNK]


def get_cursor(conn: sqlite3.Connection, course_id: int) -> tuple[int, int]:
    """(newest roster change number, the course's newest event number): where a delta starts next time.

    Both are taken inside the writing transactions, in commit order (migration 0013), so a copy read in the
    same snapshot as these numbers holds every change up to them and none after."""
    row = conn.execute("SELECT value FROM counters WHERE name = 'roster_changes'").fetchone()
    (event,) = conn.execute("SELECT event_seq FROM courses WHERE id = ?", (course_id,)).fetchone()
    return (row[0] if row else 0), event


def list_changed_enrolments(conn: sqlite3.Connection, course_id: int, after_change_id: int) -> list[int]:
    """Enrolments of the course whose person or badges changed after this roster change id."""
    rows = conn.execute(
        "SELECT DISTINCT rc.enrolment_id FROM roster_changes rc JOIN enrolments e ON e.id = rc.enrolment_id"
        " WHERE rc.seq > ? AND e.course_id = ? ORDER BY rc.enrolment_id",
        (after_change_id, course_id),
    )
    return [r[0] for r in rows]


_PEOPLE = (
    "SELECT e.id, p.full_name, COALESCE(u.name, ''), p.position FROM enrolments e"
    " JOIN participants p ON p.id = e.participant_id LEFT JOIN units u ON u.id = p.unit_id WHERE e.course_id = ?"
)


def list_people(conn: sqlite3.Connection, course_id: int, enrolment_ids: Iterable[int] | None = None) -> list[OfflinePerson]:
    """Name, unit and position of everyone on the course (or of the given enrolments)."""
    if enrolment_ids is None:
        return [OfflinePerson(*r) for r in conn.execute(_PEOPLE + " ORDER BY e.id", (course_id,))]
    found = []
    for chunk in _chunks(list(enrolment_ids)):
        marks = ",".join("?" * len(chunk))
        found += [OfflinePerson(*r) for r in conn.execute(_PEOPLE + f" AND e.id IN ({marks})", (course_id, *chunk))]
    return found


_BADGES = (
    "SELECT b.code, b.enrolment_id, b.revoked_at IS NOT NULL FROM badges b JOIN enrolments e ON e.id = b.enrolment_id"
    " WHERE e.course_id = ?"
)


def list_badges(conn: sqlite3.Connection, course_id: int, enrolment_ids: Iterable[int] | None = None) -> list[OfflineBadge]:
    """Every badge of the course, revoked and re-issued ones included (so offline says badge_revoked)."""
    if enrolment_ids is None:
        return [OfflineBadge(r[0], r[1], bool(r[2])) for r in conn.execute(_BADGES, (course_id,))]
    found = []
    for chunk in _chunks(list(enrolment_ids)):
        marks = ",".join("?" * len(chunk))
        rows = conn.execute(_BADGES + f" AND b.enrolment_id IN ({marks})", (course_id, *chunk))
        found += [OfflineBadge(r[0], r[1], bool(r[2])) for r in rows]
    return found


def list_checkins(conn: sqlite3.Connection, course_id: int) -> list[OfflineCheckin]:
    """Who counts as checked in (present or late) to which session of the course, and since when."""
    rows = conn.execute(
        "SELECT a.enrolment_id, a.session_id, a.checked_in_at FROM attendance a JOIN sessions s ON s.id = a.session_id"
        " WHERE s.course_id = ? AND a.status IN ('present', 'late')",
        (course_id,),
    )
    return [OfflineCheckin(r[0], r[1], from_db(r[2])) for r in rows]


def list_checkin_changes(conn: sqlite3.Connection, course_id: int, after_event_id: int) -> list[OfflineCheckin]:
    """The current check-in state of every (person, session) an event touched after this event id (a
    check-in, an undo, a late-synced scan that now counts instead of another); a pair no longer checked
    in comes with checked_in_at None."""
    pairs: set[tuple[int, int]] = set()
    rows = conn.execute("SELECT payload FROM events WHERE course_id = ? AND seq > ?", (course_id, after_event_id))
    for (payload,) in rows:
        data = json.loads(payload)
        if data.get("enrolment_id") and data.get("session_id"):
            pairs.add((data["enrolment_id"], data["session_id"]))
    # Check-ins: their event is the scan row.
    rows = conn.execute("SELECT enrolment_id, session_id FROM scans WHERE course_id = ? AND event_seq > ?",
                        (course_id, after_event_id))
    pairs.update((r[0], r[1]) for r in rows)
    changes = []
    for enrolment_id, session_id in sorted(pairs):
        row = conn.execute(
            "SELECT checked_in_at FROM attendance WHERE enrolment_id = ? AND session_id = ? AND status IN ('present', 'late')",
            (enrolment_id, session_id),
        ).fetchone()
        changes.append(OfflineCheckin(enrolment_id, session_id, from_db(row[0]) if row else None))
    return changes


# --- what phones report ----------------------------------------------------------------------------


def update_copy_fetched(conn: sqlite3.Connection, device_id: int, now: datetime) -> None:
    conn.execute(
        "INSERT INTO device_sync_states (device_id, copy_fetched_at) VALUES (?, ?)"
        " ON CONFLICT (device_id) DO UPDATE SET copy_fetched_at = excluded.copy_fetched_at",
        (device_id, to_db(now)),
    )


def upsert_sync_state(
    conn: sqlite3.Connection, device_id: int, queued: int, oldest_queued_at: datetime | None,
    last_sync_at: datetime | None, now: datetime,
) -> None:
    """Record a phone's report of its queue (what it holds now, and when it last emptied it)."""
    conn.execute(
        "INSERT INTO device_sync_states (device_id, queued, oldest_queued_at, last_sync_at, reported_at)"
        " VALUES (?, ?, ?, ?, ?) ON CONFLICT (device_id) DO UPDATE SET queued = excluded.queued,"
        " oldest_queued_at = excluded.oldest_queued_at,"
        " last_sync_at = COALESCE(excluded.last_sync_at, device_sync_states.last_sync_at),"
        " reported_at = excluded.reported_at",
        (device_id, queued, to_db(oldest_queued_at) if oldest_queued_at else None,
         to_db(last_sync_at) if last_sync_at else None, to_db(now)),
    )


def insert_overrules(conn: sqlite3.Connection, device_id: int, items: Iterable[tuple[str, str]], now: datetime) -> None:
    """Keep (nonce, what the phone answered offline) for scans the server judged otherwise at sync."""
    conn.executemany(
        "INSERT INTO offline_overrules (device_id, nonce, offline_reason, reported_at) VALUES (?, ?, ?, ?)"
        " ON CONFLICT (device_id, nonce) DO NOTHING",
        [(device_id, nonce, reason, to_db(now)) for nonce, reason in items],
    )


def list_sync_states(conn: sqlite3.Connection, course_id: int) -> dict[int, DeviceSyncState]:
    rows = conn.execute(
        "SELECT x.device_id, x.queued, x.oldest_queued_at, x.last_sync_at, x.copy_fetched_at, x.reported_at"
        " FROM device_sync_states x JOIN devices d ON d.id = x.device_id WHERE d.course_id = ?",
        (course_id,),
    )
    return {
        r[0]: DeviceSyncState(r[0], r[1], from_db(r[2]), from_db(r[3]), from_db(r[4]), from_db(r[5])) for r in rows
    }


def _moment(method: str, scanned_at: str, recorded_at: str) -> datetime:
    # The time that counts for a synced scan is the phone's; for the others, when we recorded it.
    return from_db(scanned_at) if method == "sync" else from_db(recorded_at)


_WHO = "COALESCE({d}.label, {o}.display_name, '')"
_DOUBLE_FROM = (
    " JOIN enrolments e ON e.id = s.enrolment_id JOIN participants p ON p.id = e.participant_id"
    " LEFT JOIN units u ON u.id = p.unit_id"
    " LEFT JOIN devices sd ON sd.id = s.device_id LEFT JOIN organisers so ON so.id = s.organiser_id"
    " LEFT JOIN devices fd ON fd.id = f.device_id LEFT JOIN organisers fo ON fo.id = f.organiser_id"
)
_DOUBLE_COLUMNS = (
    "SELECT s.session_id, s.enrolment_id, p.full_name, COALESCE(u.name, ''),"
    f" f.id, {_WHO.format(d='fd', o='fo')}, f.method, f.scanned_at, f.recorded_at,"
    f" s.id, {_WHO.format(d='sd', o='so')}, s.method, s.scanned_at, s.recorded_at"
)


def list_double_admissions(conn: sqlite3.Connection, course_id: int) -> list[DoubleAdmission]:
    """People let in twice in one session, by two doors: both scans stay in the log, attendance counts one.

    Two ways it shows: both scans were accepted (a phone offline synced a scan made before the one that
    counted, so the first made now counts, see rules.decide_scan), or a phone admitted someone offline and
    the server, at sync, found them already checked in (the phone reports that as an overruled admission).
    """
    accepted = tuple(str(r) for r in ACCEPTED)
    both_accepted = conn.execute(
        _DOUBLE_COLUMNS + " FROM attendance a JOIN scans f ON f.id = a.scan_id"
        " JOIN scans s ON s.enrolment_id = a.enrolment_id AND s.session_id = a.session_id AND s.accepted = 1"
        " AND s.reason <> 'checked_out'"
        " AND s.id <> f.id LEFT JOIN scan_undos x ON x.scan_id = s.id" + _DOUBLE_FROM +
        " WHERE f.course_id = ? AND x.scan_id IS NULL",
        (course_id,),
    ).fetchall()
    overruled = conn.execute(
        _DOUBLE_COLUMNS + " FROM offline_overrules r JOIN scans s ON s.device_id = r.device_id AND s.nonce = r.nonce"
        " JOIN scans f ON f.id = s.first_scan_id" + _DOUBLE_FROM +
        f" WHERE s.course_id = ? AND s.reason = 'already_checked_in' AND r.offline_reason IN ({','.join('?' * len(accepted))})",
        (course_id, *accepted),
    ).fetchall()
    found = {}
    for r in list(both_accepted) + list(overruled):
        found.setdefault(r[9], DoubleAdmission(
            r[0], r[1], r[2], r[3], r[4], r[5], _moment(r[6], r[7], r[8]), r[9], r[10], _moment(r[11], r[12], r[13]),
        ))
    return sorted(found.values(), key=lambda d: (d.session_id, d.second_at, d.second_scan_id))
