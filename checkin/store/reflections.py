"""The written reflection of each enrolment: its draft, what was submitted (text, or a file kept here in parts,
never under the web root), and the organiser's review."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import datetime

from ..clock import from_db, to_db

PART_BYTES = 256 * 1024
STATES = ("draft", "submitted", "accepted", "returned")


@dataclass(frozen=True, slots=True)
class Reflection:
    id: int
    course_id: int
    enrolment_id: int
    state: str
    draft: str
    body: str
    file_name: str
    file_type: str
    file_size: int
    review_comment: str
    submitted_at: datetime | None
    reviewed_at: datetime | None
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class ListedReflection:
    reflection: Reflection | None  # None: nothing written yet
    enrolment_id: int
    full_name: str
    unit: str


_COLUMNS = ("r.id, r.course_id, r.enrolment_id, r.state, r.draft, r.body, r.file_name, r.file_type, r.file_size,"
            " r.review_comment, r.submitted_at, r.reviewed_at, r.updated_at")


def _row(r) -> Reflection:
    return Reflection(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], from_db(r[10]), from_db(r[11]),
                      from_db(r[12]))


def get_reflection(conn: sqlite3.Connection, enrolment_id: int) -> Reflection | None:
    row = conn.execute(f"SELECT {_COLUMNS} FROM reflections r WHERE r.enrolment_id = ?", (enrolment_id,)).fetchone()
    return _row(row) if row else None


def save_draft(conn: sqlite3.Connection, course_id: int, enrolment_id: int, draft: str, now: datetime) -> None:
    conn.execute(
        "INSERT INTO reflections (course_id, enrolment_id, state, draft, updated_at) VALUES (?, ?, 'draft', ?, ?)"
        " ON CONFLICT (enrolment_id) DO UPDATE SET draft = excluded.draft, updated_at = excluded.updated_at",
        (course_id, enrolment_id, draft, to_db(now)),
    )


def submit(conn: sqlite3.Connection, course_id: int, enrolment_id: int, now: datetime, *, body: str = "",
           file_name: str = "", file_type: str = "", data: bytes = b"") -> int:
    """Submit (or resubmit) the reflection: text, or a file that replaces any earlier one. The review starts over."""
    reflection_id = conn.execute(
        "INSERT INTO reflections (course_id, enrolment_id, state, draft, body, file_name, file_type, file_size,"
        " submitted_at, updated_at) VALUES (?, ?, 'submitted', ?, ?, ?, ?, ?, ?, ?)"
        " ON CONFLICT (enrolment_id) DO UPDATE SET state = 'submitted', body = excluded.body,"
        " draft = CASE WHEN excluded.body <> '' THEN excluded.body ELSE reflections.draft END,"
        " file_name = excluded.file_name, file_type = excluded.file_type, file_size = excluded.file_size,"
        " submitted_at = excluded.submitted_at, updated_at = excluded.updated_at RETURNING id",
        (course_id, enrolment_id, body, body, file_name, file_type, len(data), to_db(now), to_db(now)),
    ).fetchone()[0]
    conn.execute("DELETE FROM reflection_parts WHERE reflection_id = ?", (reflection_id,))
    view = memoryview(data)
    for number, start in enumerate(range(0, len(data), PART_BYTES)):
        conn.execute("INSERT INTO reflection_parts (reflection_id, part, data) VALUES (?, ?, ?)",
                     (reflection_id, number, bytes(view[start:start + PART_BYTES])))
    return reflection_id


def review(conn: sqlite3.Connection, enrolment_id: int, state: str, comment: str, organiser_id: int,
           now: datetime) -> None:
    conn.execute(
        "UPDATE reflections SET state = ?, review_comment = ?, reviewed_by = ?, reviewed_at = ?, updated_at = ?"
        " WHERE enrolment_id = ?", (state, comment, organiser_id, to_db(now), to_db(now), enrolment_id))


def storage_used(conn: sqlite3.Connection, course_id: int, *, except_enrolment: int | None = None) -> int:
    """Bytes the course's submitted reflections take (files and texts), leaving out one person's (being replaced)."""
    row = conn.execute(
        "SELECT COALESCE(SUM(file_size + LENGTH(body)), 0) FROM reflections WHERE course_id = ? AND enrolment_id <> ?",
        (course_id, except_enrolment or 0)).fetchone()
    return int(row[0])


def read_file(conn: sqlite3.Connection, reflection_id: int) -> bytes:
    rows = conn.execute("SELECT data FROM reflection_parts WHERE reflection_id = ? ORDER BY part", (reflection_id,))
    return b"".join(bytes(r[0]) for r in rows)


def list_reflections(conn: sqlite3.Connection, course_id: int) -> list[ListedReflection]:
    """Everyone enrolled, in roster order (unit, then name), with their reflection if they have one."""
    rows = conn.execute(
        f"SELECT {_COLUMNS}, e.id, p.full_name, COALESCE(u.name, '')"
        " FROM enrolments e JOIN participants p ON p.id = e.participant_id LEFT JOIN units u ON u.id = p.unit_id"
        " LEFT JOIN reflections r ON r.enrolment_id = e.id WHERE e.course_id = ?", (course_id,))
    listed = [ListedReflection(_row(r) if r[0] is not None else None, r[13], r[14], r[15]) for r in rows]
    return sorted(listed, key=lambda x: (x.unit.casefold(), x.full_name.casefold(), x.enrolment_id))
