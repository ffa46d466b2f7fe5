"""Long jobs an organiser follows on a page (their stage and progress) and the file each one leaves."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from ..clock import from_db, to_db

FINISHED = ("done", "failed")
_COLUMNS = (
    "id, kind, course_id, organiser_id, stage, done, total, error, filename, media_type, size, created_at, updated_at"
)


@dataclass(frozen=True, slots=True)
class Job:
    id: str
    kind: str
    course_id: int
    organiser_id: int
    stage: str
    done: int
    total: int
    error: str
    filename: str
    media_type: str
    size: int
    created_at: datetime
    updated_at: datetime

    @property
    def finished(self) -> bool:
        return self.stage in FINISHED


def _job(row) -> Job | None:
    if row is None:
        return None
    values = list(row)
    values[11], values[12] = from_db(values[11]), from_db(values[12])
    return Job(*values)


def get_job(conn: sqlite3.Connection, job_id: str) -> Job | None:
    return _job(conn.execute(f"SELECT {_COLUMNS} FROM jobs WHERE id = ?", (job_id,)).fetchone())


def get_running_job(conn: sqlite3.Connection, course_id: int, kind: str) -> Job | None:
    """The course's job of this kind that has not finished (the newest, should there be several)."""
    return _job(conn.execute(
        f"SELECT {_COLUMNS} FROM jobs WHERE course_id = ? AND kind = ? AND stage NOT IN ('done', 'failed')"
        " ORDER BY created_at DESC LIMIT 1", (course_id, kind),
    ).fetchone())


def insert_job(conn: sqlite3.Connection, job_id: str, kind: str, course_id: int, organiser_id: int, stage: str,
               now: datetime, total: int = 0) -> None:
    conn.execute(
        "INSERT INTO jobs (id, kind, course_id, organiser_id, stage, total, created_at, updated_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (job_id, kind, course_id, organiser_id, stage, total, to_db(now), to_db(now)),
    )


def update_job_progress(conn: sqlite3.Connection, job_id: str, stage: str, done: int, total: int, now: datetime) -> None:
    """Where a running job stands; a finished job is left as it is."""
    conn.execute(
        "UPDATE jobs SET stage = ?, done = ?, total = ?, updated_at = ? WHERE id = ? AND stage NOT IN ('done', 'failed')",
        (stage, done, total, to_db(now), job_id),
    )


def update_job_stage(conn: sqlite3.Connection, job_id: str, stage: str, now: datetime) -> None:
    """A running job's new stage, its progress figures left as they are."""
    conn.execute("UPDATE jobs SET stage = ?, updated_at = ? WHERE id = ? AND stage NOT IN ('done', 'failed')",
                 (stage, to_db(now), job_id))


def finish_job(conn: sqlite3.Connection, job_id: str, filename: str, media_type: str, size: int, now: datetime) -> None:
    conn.execute(
        "UPDATE jobs SET stage = 'done', done = total, filename = ?, media_type = ?, size = ?, updated_at = ?"
        " WHERE id = ?", (filename, media_type, size, to_db(now), job_id),
    )


def fail_job(conn: sqlite3.Connection, job_id: str, error: str, now: datetime) -> None:
    conn.execute(
        "UPDATE jobs SET stage = 'failed', error = ?, updated_at = ? WHERE id = ? AND stage <> 'done'",
        (error[:500], to_db(now), job_id),
    )


def insert_job_part(conn: sqlite3.Connection, job_id: str, part: int, data: bytes, now: datetime) -> None:
    """A part of the job's file; the job is 'saving' meanwhile (and shows a sign of life)."""
    conn.execute("INSERT INTO job_parts (job_id, part, data) VALUES (?, ?, ?)", (job_id, part, data))
    update_job_stage(conn, job_id, "saving", now)


def count_job_parts(conn: sqlite3.Connection, job_id: str) -> int:
    return conn.execute("SELECT COUNT(*) FROM job_parts WHERE job_id = ?", (job_id,)).fetchone()[0]


def get_job_part(conn: sqlite3.Connection, job_id: str, part: int) -> bytes | None:
    row = conn.execute("SELECT data FROM job_parts WHERE job_id = ? AND part = ?", (job_id, part)).fetchone()
    return bytes(row[0]) if row else None


def list_expired_jobs(conn: sqlite3.Connection, created_before: datetime, silent_since: datetime) -> list[str]:
    """Jobs started before `created_before` that are finished, or have said nothing since `silent_since`."""
    rows = conn.execute(
        "SELECT id FROM jobs WHERE created_at < ? AND (stage IN ('done', 'failed') OR updated_at < ?)"
        " ORDER BY created_at", (to_db(created_before), to_db(silent_since)),
    )
    return [r[0] for r in rows]


def delete_job_parts(conn: sqlite3.Connection, job_id: str, limit: int) -> int:
    """Delete up to `limit` parts of the job's file; returns how many went (a few per transaction)."""
    parts = [r[0] for r in conn.execute(
        "SELECT part FROM job_parts WHERE job_id = ? ORDER BY part LIMIT ?", (job_id, limit))]
    for part in parts:
        conn.execute("DELETE FROM job_parts WHERE job_id = ? AND part = ?", (job_id, part))
    return len(parts)


def delete_jobs(conn: sqlite3.Connection, job_ids: Iterable[str]) -> None:
    """Delete jobs whose parts are gone."""
    for job_id in job_ids:
        conn.execute("DELETE FROM jobs WHERE id = ?", (job_id,))
