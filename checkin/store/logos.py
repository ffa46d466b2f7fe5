"""A course's logo for printed badges (checked PNG or JPEG bytes, kept in the database)."""

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


def get_logo(conn: sqlite3.Connection, course_id: int) -> Logo | None:
    row = conn.execute(
        "SELECT course_id, content_type, data, updated_at FROM course_logos WHERE course_id = ?", (course_id,)
    ).fetchone()
    return Logo(row[0], row[1], bytes(row[2]), from_db(row[3])) if row else None


def set_logo(conn: sqlite3.Connection, course_id: int, content_type: str, data: bytes, now: datetime) -> None:
    """Store (or replace) the course's logo; the caller has checked the bytes."""
    conn.execute(
        "INSERT INTO course_logos (course_id, content_type, data, updated_at) VALUES (?, ?, ?, ?)"
        " ON CONFLICT (course_id) DO UPDATE SET content_type = excluded.content_type, data = excluded.data,"
        " updated_at = excluded.updated_at",
        (course_id, content_type, data, to_db(now)),
    )


def delete_logo(conn: sqlite3.Connection, course_id: int) -> bool:
    return conn.execute("DELETE FROM course_logos WHERE course_id = ?", (course_id,)).rowcount > 0
