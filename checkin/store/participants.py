"""The organiser's view of the people on a course: one person's record, badge and scans, excusals,
units, and walk-in substitutes."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import datetime

from ..clock import from_db, to_db
from . import scans


@dataclass(frozen=True, slots=True)
class PersonLink:
    enrolment_id: int
    full_name: str
    unit: str


@dataclass(frozen=True, slots=True)
class PersonRecord:
    enrolment_id: int
    participant_id: int
    course_id: int
    full_name: str
    unit: str
    position: str
    phone: str
    email: str
    member_code: str
    enrolled_at: datetime
    badge_code: str | None  # the newest badge
    badge_issued_at: datetime | None
    badge_revoked_at: datetime | None
    replaces: PersonLink | None  # a substitute: whom they came instead of
    replaced_by: tuple[PersonLink, ...]


@dataclass(frozen=True, slots=True)
class PersonScan:
    """One scan of this person, with who made it and whether it was undone."""

    id: int
    session_id: int | None
    method: str
    reason: str
    accepted: bool
    scanned_at: datetime
    recorded_at: datetime
    note: str
    device: str
    organiser: str
    undone_at: datetime | None
    undo_reason: str


_LINK = (
    "SELECT e.id, p.full_name, COALESCE(u.name, '') FROM enrolments e JOIN participants p ON p.id = e.participant_id"
    " LEFT JOIN units u ON u.id = p.unit_id"
)


def get_person(conn: sqlite3.Connection, course_id: int, enrolment_id: int) -> PersonRecord | None:
    """The enrolment on this course with its details, newest badge and substitutions; None if not on it."""
    row = conn.execute(
        "SELECT e.id, p.id, e.course_id, p.full_name, COALESCE(u.name, ''), p.position, p.phone, p.email,"
        " p.member_code, e.created_at FROM enrolments e JOIN participants p ON p.id = e.participant_id"
        " LEFT JOIN units u ON u.id = p.unit_id WHERE e.id = ? AND e.course_id = ?",
        (enrolment_id, course_id),
    ).fetchone()
    if row is None:
        return None
    badge = conn.execute(
        "SELECT code, issued_at, revoked_at FROM badges WHERE enrolment_id = ?"
        " ORDER BY revoked_at IS NULL DESC, issued_at DESC LIMIT 1",
        (enrolment_id,),
    ).fetchone()
    replaces = conn.execute(
        _LINK + " JOIN substitutions s ON s.replaces_enrolment_id = e.id WHERE s.enrolment_id = ?", (enrolment_id,)
    ).fetchone()
    replaced_by = conn.execute(
        _LINK + " JOIN substitutions s ON s.enrolment_id = e.id WHERE s.replaces_enrolment_id = ? ORDER BY e.id",
        (enrolment_id,),
    ).fetchall()
    return PersonRecord(
        *row[:9], enrolled_at=from_db(row[9]),
        badge_code=badge[0] if badge else None, badge_issued_at=from_db(badge[1]) if badge else None,
        badge_revoked_at=from_db(badge[2]) if badge else None,
        replaces=PersonLink(*replaces) if replaces else None,
        replaced_by=tuple(PersonLink(*r) for r in replaced_by),
    )


def list_person_scans(conn: sqlite3.Connection, enrolment_id: int) -> list[PersonScan]:
    """Every scan recorded for this person, oldest first (refused ones too)."""
    rows = conn.execute(
        "SELECT s.id, s.session_id, s.method, s.reason, s.accepted, s.scanned_at, s.recorded_at, s.note,"
        " COALESCE(d.label, ''), COALESCE(o.display_name, ''), x.undone_at, COALESCE(x.reason, '')"
        " FROM scans s LEFT JOIN devices d ON d.id = s.device_id LEFT JOIN organisers o ON o.id = s.organiser_id"
        " LEFT JOIN scan_undos x ON x.scan_id = s.id WHERE s.enrolment_id = ? ORDER BY s.id",
        (enrolment_id,),
    )
    return [
        PersonScan(r[0], r[1], r[2], r[3], bool(r[4]), from_db(r[5]), from_db(r[6]), r[7], r[8], r[9],
                   from_db(r[10]), r[11])
        for r in rows
    ]


def list_units(conn: sqlite3.Connection, course_id: int) -> list[str]:
    """The units that have someone on the course, in name order."""
    rows = conn.execute(
        "SELECT DISTINCT u.name, u.name_key FROM enrolments e JOIN participants p ON p.id = e.participant_id"
        " JOIN units u ON u.id = p.unit_id WHERE e.course_id = ? ORDER BY u.name_key",
        (course_id,),
    )
    return [r[0] for r in rows]


def set_excused(conn: sqlite3.Connection, enrolment_id: int, session_id: int, note: str, now: datetime) -> bool:
    """Mark a person excused from a session; False (nothing changed) when they are checked in to it."""
    if scans.get_checkin(conn, enrolment_id, session_id) is not None:
        return False
    scans.upsert_attendance(conn, enrolment_id, session_id, "excused", None, None, now, note)
    conn.execute("UPDATE attendance SET excuse = note WHERE enrolment_id = ? AND session_id = ?",
                 (enrolment_id, session_id))
    return True


def clear_excused(conn: sqlite3.Connection, enrolment_id: int, session_id: int) -> bool:
    conn.execute("UPDATE attendance SET excuse = NULL WHERE enrolment_id = ? AND session_id = ?",
                 (enrolment_id, session_id))
    return conn.execute(
        "DELETE FROM attendance WHERE enrolment_id = ? AND session_id = ? AND status = 'excused'",
        (enrolment_id, session_id),
    ).rowcount == 1


def insert_substitution(conn: sqlite3.Connection, enrolment_id: int, replaces_enrolment_id: int, now: datetime) -> None:
    conn.execute(
        "INSERT INTO substitutions (enrolment_id, replaces_enrolment_id, created_at) VALUES (?, ?, ?)",
        (enrolment_id, replaces_enrolment_id, to_db(now)),
    )
