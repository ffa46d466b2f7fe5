"""A course's completion rule (exit scans, minimum share of a session, N of M sessions, feedback and
reflection required) and each session's own choices over it."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import datetime

from ..clock import from_db, to_db
from ..door.rules import Stay
from ..models import Checkin


@dataclass(frozen=True, slots=True)
class CompletionRule:
    course_id: int
    exit_scans: bool = False
    min_present_pct: int = 75
    min_sessions: int | None = None  # None: every session
    late_counts: bool = True
    require_feedback: bool = False
    require_reflection: bool = False
    feedback_named: bool = False  # False: feedback is anonymous
    reflection_deadline: datetime | None = None
    storage_limit_mb: int = 500


@dataclass(frozen=True, slots=True)
class SessionRule:
    session_id: int
    exit_scans: bool | None = None  # None: the course's
    min_present_pct: int | None = None
    speaker: str = ""


@dataclass(frozen=True, slots=True)
class ExitRule:
    """What an exit scan in one session needs: whether exit scans count, and the minimum share."""

    exit_scans: bool
    min_present_pct: int


def get_rule(conn: sqlite3.Connection, course_id: int) -> CompletionRule:
    # N of M is the course's min_sessions_for_certificate (the certificate pages set it too): one source.
    row = conn.execute(
        "SELECT r.exit_scans, r.min_present_pct, c.min_sessions_for_certificate, r.late_counts, r.require_feedback,"
        " r.require_reflection, r.feedback_named, r.reflection_deadline, r.storage_limit_mb, r.course_id"
        " FROM courses c LEFT JOIN completion_rules r ON r.course_id = c.id WHERE c.id = ?",
        (course_id,)).fetchone()
    if row is None or row[9] is None:
        return CompletionRule(course_id, min_sessions=row[2] if row else None)
    return CompletionRule(course_id, bool(row[0]), row[1], row[2], bool(row[3]), bool(row[4]), bool(row[5]),
                          bool(row[6]), from_db(row[7]), row[8])


def set_rule(conn: sqlite3.Connection, rule: CompletionRule, now: datetime) -> None:
    conn.execute(
        "INSERT INTO completion_rules (course_id, exit_scans, min_present_pct, min_sessions, late_counts,"
        " require_feedback, require_reflection, feedback_named, reflection_deadline, storage_limit_mb, updated_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        " ON CONFLICT (course_id) DO UPDATE SET exit_scans = excluded.exit_scans,"
        " min_present_pct = excluded.min_present_pct, min_sessions = excluded.min_sessions,"
        " late_counts = excluded.late_counts, require_feedback = excluded.require_feedback,"
        " require_reflection = excluded.require_reflection, feedback_named = excluded.feedback_named,"
        " reflection_deadline = excluded.reflection_deadline, storage_limit_mb = excluded.storage_limit_mb,"
        " updated_at = excluded.updated_at",
        (rule.course_id, int(rule.exit_scans), rule.min_present_pct, rule.min_sessions, int(rule.late_counts),
         int(rule.require_feedback), int(rule.require_reflection), int(rule.feedback_named),
         to_db(rule.reflection_deadline) if rule.reflection_deadline else None, rule.storage_limit_mb, to_db(now)),
    )
    # The certificate pages read the same threshold.
    conn.execute("UPDATE courses SET min_sessions_for_certificate = ? WHERE id = ?", (rule.min_sessions, rule.course_id))


def list_session_rules(conn: sqlite3.Connection, course_id: int) -> dict[int, SessionRule]:
    rows = conn.execute(
        "SELECT r.session_id, r.exit_scans, r.min_present_pct, r.speaker FROM session_rules r"
        " JOIN sessions s ON s.id = r.session_id WHERE s.course_id = ?", (course_id,))
    return {r[0]: SessionRule(r[0], None if r[1] is None else bool(r[1]), r[2], r[3]) for r in rows}


def set_session_rule(conn: sqlite3.Connection, rule: SessionRule) -> None:
    if rule.exit_scans is None and rule.min_present_pct is None and not rule.speaker:
        conn.execute("DELETE FROM session_rules WHERE session_id = ?", (rule.session_id,))
        return
    conn.execute(
        "INSERT INTO session_rules (session_id, exit_scans, min_present_pct, speaker) VALUES (?, ?, ?, ?)"
        " ON CONFLICT (session_id) DO UPDATE SET exit_scans = excluded.exit_scans,"
        " min_present_pct = excluded.min_present_pct, speaker = excluded.speaker",
        (rule.session_id, None if rule.exit_scans is None else int(rule.exit_scans), rule.min_present_pct,
         rule.speaker),
    )


def delete_session_rule(conn: sqlite3.Connection, session_id: int) -> None:
    conn.execute("DELETE FROM session_rules WHERE session_id = ?", (session_id,))


def exit_rules(conn: sqlite3.Connection, course_id: int) -> tuple[bool, dict[int, ExitRule]]:
    """Whether any session of the course takes exit scans, and each session's exit rule."""
    course = get_rule(conn, course_id)
    own = list_session_rules(conn, course_id)
    ids = [r[0] for r in conn.execute("SELECT id FROM sessions WHERE course_id = ?", (course_id,))]
    result = {}
    for session_id in ids:
        mine = own.get(session_id, SessionRule(session_id))
        result[session_id] = ExitRule(
            course.exit_scans if mine.exit_scans is None else mine.exit_scans,
            course.min_present_pct if mine.min_present_pct is None else mine.min_present_pct,
        )
    return any(r.exit_scans for r in result.values()), result


# --- departures (attendance rows) ---------------------------------------------------------------


def list_stays(conn: sqlite3.Connection, enrolment_id: int) -> dict[int, Stay]:
    """This person's check-ins (present, late) per session, with their departures."""
    rows = conn.execute(
        "SELECT session_id, scan_id, checked_in_at, checked_out_at FROM attendance"
        " WHERE enrolment_id = ? AND status IN ('present', 'late')", (enrolment_id,))
    return {r[0]: Stay(Checkin(r[1], from_db(r[2])), from_db(r[3])) for r in rows}


def set_departure(conn: sqlite3.Connection, enrolment_id: int, session_id: int, scan_id: int | None,
                  checked_out_at: datetime | None, left_early: bool, now: datetime) -> None:
    conn.execute(
        "UPDATE attendance SET checked_out_at = ?, checkout_scan_id = ?, left_early = ?, updated_at = ?"
        " WHERE enrolment_id = ? AND session_id = ?",
        (to_db(checked_out_at) if checked_out_at else None, scan_id, int(left_early), to_db(now), enrolment_id,
         session_id),
    )


def checkout_scan_of(conn: sqlite3.Connection, enrolment_id: int, session_id: int) -> int | None:
    row = conn.execute("SELECT checkout_scan_id FROM attendance WHERE enrolment_id = ? AND session_id = ?",
                       (enrolment_id, session_id)).fetchone()
    return row[0] if row else None



# --- what the completion rule reads besides attendance -----------------------------------------------


def list_feedback_given(conn: sqlite3.Connection, course_id: int) -> set[tuple[int, int]]:
    rows = conn.execute(
        "SELECT g.enrolment_id, g.session_id FROM feedback_given g JOIN sessions s ON s.id = g.session_id"
        " WHERE s.course_id = ?", (course_id,))
    return {(r[0], r[1]) for r in rows}


def list_reflection_states(conn: sqlite3.Connection, course_id: int) -> dict[int, str]:
    rows = conn.execute("SELECT enrolment_id, state FROM reflections WHERE course_id = ?", (course_id,))
    return {r[0]: r[1] for r in rows}


# --- the room code: the phone each badge is bound to ------------------------------------------------


def bind_room_device(conn: sqlite3.Connection, enrolment_id: int, key_hash: str, now: datetime) -> bool:
    """Bind the badge to this phone if it has none yet; True when the badge is (now) bound to this phone."""
    conn.execute("INSERT INTO room_devices (enrolment_id, key_hash, bound_at) VALUES (?, ?, ?)"
                 " ON CONFLICT (enrolment_id) DO NOTHING", (enrolment_id, key_hash, to_db(now)))
    row = conn.execute("SELECT key_hash FROM room_devices WHERE enrolment_id = ?", (enrolment_id,)).fetchone()
    return row[0] == key_hash


def release_room_device(conn: sqlite3.Connection, enrolment_id: int) -> bool:
    return conn.execute("DELETE FROM room_devices WHERE enrolment_id = ?", (enrolment_id,)).rowcount > 0


@dataclass(frozen=True, slots=True)
class RoomRefusal:
    scan_id: int
    enrolment_id: int
    full_name: str
    unit: str
    session_id: int | None
    at: datetime


def list_room_refusals(conn: sqlite3.Connection, course_id: int, limit: int = 50) -> list[RoomRefusal]:
    """Room check-ins refused because the badge is bound to another phone, the latest first."""
    rows = conn.execute(
        "SELECT s.id, s.enrolment_id, p.full_name, COALESCE(u.name, ''), s.session_id, s.recorded_at FROM scans s"
        " JOIN enrolments e ON e.id = s.enrolment_id JOIN participants p ON p.id = e.participant_id"
        " LEFT JOIN units u ON u.id = p.unit_id"
        " WHERE s.course_id = ? AND s.method = 'room_code' AND s.reason = 'other_device' ORDER BY s.id DESC LIMIT ?",
        (course_id, limit))
    return [RoomRefusal(r[0], r[1], r[2], r[3], r[4], from_db(r[5])) for r in rows]
