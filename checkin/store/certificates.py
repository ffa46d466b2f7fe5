"""Issued certificates of attendance and the course's threshold for them."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from ..clock import from_db, to_db

_COLUMNS = (
    "c.id, c.code, c.course_id, c.enrolment_id, c.full_name, c.unit, c.sessions_attended, c.sessions_total,"
    " c.issued_at, c.revoked_at"
)


@dataclass(frozen=True, slots=True)
class Certificate:
    id: int
    code: str
    course_id: int
    enrolment_id: int
    full_name: str
    unit: str
    sessions_attended: int
    sessions_total: int
    issued_at: datetime
    revoked_at: datetime | None


@dataclass(frozen=True, slots=True)
class NewCertificate:
    code: str
    course_id: int
    enrolment_id: int
    full_name: str
    unit: str
    sessions_attended: int
    sessions_total: int


def _certificate(row) -> Certificate:
    values = list(row)
    values[8], values[9] = from_db(values[8]), from_db(values[9])
    return Certificate(*values)


def get_certificate_by_code(conn: sqlite3.Connection, code: str) -> Certificate | None:
    row = conn.execute(f"SELECT {_COLUMNS} FROM certificates c WHERE c.code = ?", (code,)).fetchone()
    return _certificate(row) if row else None


def list_certificates(conn: sqlite3.Connection, course_id: int) -> list[Certificate]:
    rows = conn.execute(f"SELECT {_COLUMNS} FROM certificates c WHERE c.course_id = ? ORDER BY c.id", (course_id,))
    return [_certificate(r) for r in rows]


def upsert_certificate(conn: sqlite3.Connection, new: NewCertificate, now: datetime) -> None:
    """Issue a certificate, or refresh (and un-revoke) the enrolment's existing one, keeping its code."""
    conn.execute(
        "INSERT INTO certificates (code, course_id, enrolment_id, full_name, unit, sessions_attended, sessions_total,"
        " issued_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
        " ON CONFLICT (enrolment_id) DO UPDATE SET full_name = excluded.full_name, unit = excluded.unit,"
        " sessions_attended = excluded.sessions_attended, sessions_total = excluded.sessions_total,"
        " issued_at = CASE WHEN certificates.revoked_at IS NULL AND certificates.sessions_attended"
        " = excluded.sessions_attended AND certificates.full_name = excluded.full_name"
        " THEN certificates.issued_at ELSE excluded.issued_at END, revoked_at = NULL",
        (new.code, new.course_id, new.enrolment_id, new.full_name, new.unit, new.sessions_attended,
         new.sessions_total, to_db(now)),
    )


def revoke_enrolment_certificates(conn: sqlite3.Connection, course_id: int, enrolment_ids: Sequence[int],
                                  now: datetime) -> int:
    """Revoke the course's valid certificates of these enrolments; returns how many were revoked."""
    revoked = 0
    for enrolment_id in enrolment_ids:
        revoked += conn.execute(
            "UPDATE certificates SET revoked_at = ? WHERE course_id = ? AND enrolment_id = ? AND revoked_at IS NULL",
            (to_db(now), course_id, enrolment_id),
        ).rowcount
    return revoked


def update_min_sessions(conn: sqlite3.Connection, course_id: int, minimum: int | None) -> None:
    """Set how many sessions a certificate needs (None: all of them)."""
    conn.execute("UPDATE courses SET min_sessions_for_certificate = ? WHERE id = ?", (minimum, course_id))
