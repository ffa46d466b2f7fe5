"""Feedback per session: ratings and comments (without who gave them, when the course keeps them anonymous),
and who gave theirs, once per person and session."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import datetime

from ..clock import from_db, to_db


@dataclass(frozen=True, slots=True)
class NewFeedback:
    course_id: int
    session_id: int
    enrolment_id: int
    content_rating: int
    speaker_rating: int
    comment: str
    named: bool  # False: the answer is stored without the person


@dataclass(frozen=True, slots=True)
class FeedbackRow:
    id: int
    session_id: int
    content_rating: int
    speaker_rating: int
    comment: str
    created_at: datetime
    full_name: str  # "" when anonymous
    unit: str


def insert_feedback(conn: sqlite3.Connection, new: NewFeedback, now: datetime) -> bool:
    """Record one person's feedback for one session; False (nothing written) when they already gave it."""
    taken = conn.execute(
        "INSERT INTO feedback_given (enrolment_id, session_id, given_at) VALUES (?, ?, ?)"
        " ON CONFLICT (enrolment_id, session_id) DO NOTHING RETURNING enrolment_id",
        (new.enrolment_id, new.session_id, to_db(now)),
    ).fetchone()
    if taken is None:
        return False
    conn.execute(
        "INSERT INTO feedback (course_id, session_id, enrolment_id, content_rating, speaker_rating, comment, created_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        (new.course_id, new.session_id, new.enrolment_id if new.named else None, new.content_rating,
         new.speaker_rating, new.comment, to_db(now)),
    )
    return True


def given_sessions(conn: sqlite3.Connection, enrolment_id: int) -> set[int]:
    return {r[0] for r in conn.execute("SELECT session_id FROM feedback_given WHERE enrolment_id = ?", (enrolment_id,))}


def list_feedback(conn: sqlite3.Connection, course_id: int) -> list[FeedbackRow]:
    rows = conn.execute(
        "SELECT f.id, f.session_id, f.content_rating, f.speaker_rating, f.comment, f.created_at,"
        " COALESCE(p.full_name, ''), COALESCE(u.name, '')"
        " FROM feedback f LEFT JOIN enrolments e ON e.id = f.enrolment_id"
        " LEFT JOIN participants p ON p.id = e.participant_id LEFT JOIN units u ON u.id = p.unit_id"
        " WHERE f.course_id = ? ORDER BY f.session_id, f.id", (course_id,))
    return [FeedbackRow(r[0], r[1], r[2], r[3], r[4], from_db(r[5]), r[6], r[7]) for r in rows]
