"""A course's logo for printed badges (checked PNG or JPEG bytes, kept in the database), and its version."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import datetime

from ..clock import from_db, to_db


@dataclass(frozen=True, slots=True)
class Logo:
    course_id: int
    content_type: str
    data: bytes
    updated_at: datetime
    version: str  # changes with every upload


def get_logo(conn: sqlite3.Connection, course_id: int) -> Logo | None:
    row = conn.execute(
        "SELECT course_id, content_type, data, updated_at, version FROM course_logos WHERE course_id = ?", (course_id,)
    ).fetchone()
    return Logo(row[0], row[1], bytes(row[2]), from_db(row[3]), row[4]) if row else None


def get_logo_version(conn: sqlite3.Connection, course_id: int) -> str | None:
    """The version of the course's logo (None: no logo), without reading the image."""
    row = conn.execute("SELECT version FROM course_logos WHERE course_id = ?", (course_id,)).fetchone()
    return row[0] if row else None


def get_logo_data(conn: sqlite3.Connection, course_id: int, version: str) -> bytes | None:
    """The image of the course's logo if it is still at `version` (None: replaced or removed since)."""
    row = conn.execute("SELECT data FROM course_logos WHERE course_id = ? AND version = ?",
                       (course_id, version)).fetchone()
    return bytes(row[0]) if row else None


def set_logo(conn: sqlite3.Connection, course_id: int, content_type: str, data: bytes, now: datetime,
             version: str) -> None:
    """Store (or replace) the course's logo; the caller has checked the bytes and chosen a new `version`."""
    conn.execute(
        "INSERT INTO course_logos (course_id, content_type, data, updated_at, version) VALUES (?, ?, ?, ?, ?)"
        " ON CONFLICT (course_id) DO UPDATE SET content_type = excluded.content_type, data = excluded.data,"
        " updated_at = excluded.updated_at, version = excluded.version",
        (course_id, content_type, data, to_db(now), version),
    )


def delete_logo(conn: sqlite3.Connection, course_id: int) -> bool:
    return conn.execute("DELETE FROM course_logos WHERE course_id = ?", (course_id,)).rowcount > 0
