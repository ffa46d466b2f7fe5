"""Roster uploads kept between the preview and the organiser's confirmation."""

from __future__ import annotations

import secrets
import sqlite3
from dataclasses import dataclass
from datetime import datetime, timedelta

from ..clock import from_db, to_db

PENDING_LIFETIME = timedelta(hours=2)


@dataclass(frozen=True, slots=True)
class PendingImport:
    id: str
    course_id: int
    organiser_id: int
    filename: str
    data: bytes
    created_at: datetime
    expires_at: datetime


def insert_pending_import(
    conn: sqlite3.Connection, course_id: int, organiser_id: int, filename: str, data: bytes, now: datetime
) -> str:
    """Keep an uploaded file until it is confirmed or expires; returns its random id.
    Expired uploads are removed here, so the table stays small without a background job."""
    conn.execute("DELETE FROM pending_imports WHERE expires_at <= ?", (to_db(now),))
    import_id = secrets.token_urlsafe(18)
    conn.execute(
        "INSERT INTO pending_imports (id, course_id, organiser_id, filename, data, created_at, expires_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        (import_id, course_id, organiser_id, filename[:200], data, to_db(now), to_db(now + PENDING_LIFETIME)),
    )
    return import_id


def get_pending_import(conn: sqlite3.Connection, import_id: str) -> PendingImport | None:
    row = conn.execute(
        "SELECT id, course_id, organiser_id, filename, data, created_at, expires_at FROM pending_imports WHERE id = ?",
        (import_id,),
    ).fetchone()
    if row is None:
        return None
    return PendingImport(row[0], row[1], row[2], row[3], bytes(row[4]), from_db(row[5]), from_db(row[6]))


def delete_pending_import(conn: sqlite3.Connection, import_id: str) -> bool:
    return conn.execute("DELETE FROM pending_imports WHERE id = ?", (import_id,)).rowcount == 1


def discard_pending_imports_of_body(conn: sqlite3.Connection, body_id: int) -> int:
    """Uploads of the body's courses still waiting to be confirmed, discarded (a person being erased may be in any
    of them, and the file is kept whole until its confirmation). Their organisers upload them again. Returns how
    many."""
    return conn.execute("DELETE FROM pending_imports WHERE course_id IN (SELECT id FROM courses WHERE body_id = ?)",
                        (body_id,)).rowcount
