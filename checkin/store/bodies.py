"""Organising bodies: the owner of what outlives a course (units, people's records, programmes)."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import datetime

from ..clock import to_db
from ..text import clean


@dataclass(frozen=True, slots=True)
class Body:
    id: int
    name: str


def get_or_insert_body(conn: sqlite3.Connection, name: str, now: datetime) -> int:
    """The body with this name (as printed, spaces cleaned), created on first sight."""
    name = clean(name)
    conn.execute("INSERT INTO bodies (name, created_at) VALUES (?, ?) ON CONFLICT (name) DO NOTHING", (name, to_db(now)))
    return conn.execute("SELECT id FROM bodies WHERE name = ?", (name,)).fetchone()[0]


def get_body(conn: sqlite3.Connection, body_id: int) -> Body | None:
    row = conn.execute("SELECT id, name FROM bodies WHERE id = ?", (body_id,)).fetchone()
    return Body(row[0], row[1]) if row else None


def get_course_body(conn: sqlite3.Connection, course_id: int) -> Body | None:
    row = conn.execute("SELECT b.id, b.name FROM bodies b JOIN courses c ON c.body_id = b.id WHERE c.id = ?",
                       (course_id,)).fetchone()
    return Body(row[0], row[1]) if row else None


def list_bodies(conn: sqlite3.Connection, organiser_id: int | None = None) -> list[Body]:
    """Every body (administrators), or those of the courses this organiser organises."""
    if organiser_id is None:
        rows = conn.execute("SELECT id, name FROM bodies ORDER BY name")
    else:
        rows = conn.execute(
            "SELECT DISTINCT b.id, b.name FROM bodies b JOIN courses c ON c.body_id = b.id"
            " JOIN course_organisers co ON co.course_id = c.id WHERE co.organiser_id = ? ORDER BY b.name",
            (organiser_id,))
    return [Body(r[0], r[1]) for r in rows]


def is_body_organiser(conn: sqlite3.Connection, body_id: int, organiser_id: int) -> bool:
    """Whether the organiser organises any course of the body (then the body's units and records are theirs too)."""
    return conn.execute(
        "SELECT 1 FROM courses c JOIN course_organisers co ON co.course_id = c.id"
        " WHERE c.body_id = ? AND co.organiser_id = ? LIMIT 1", (body_id, organiser_id)).fetchone() is not None
