"""Emailing badge links: who still needs one, and each person's result (sending, sent, failed)."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import datetime

from ..clock import from_db, to_db

# Which people a sending run goes to:
#   unsent  - never mailed, failed before, or mailed a link that has since been replaced by a new badge
#   failed  - only those whose last attempt failed
#   all     - everyone with an address, even those already sent (the organiser asks for it explicitly)
MODES = ("unsent", "failed", "all")


@dataclass(frozen=True, slots=True)
class Recipient:
    enrolment_id: int
    full_name: str
    unit: str
    email: str
    code: str  # the active badge code
    attempts: int = 0  # the person's attempts when the run chose them: a change since means another run did


@dataclass(frozen=True, slots=True)
class MailingResult:
    """One person on the course with their email state ('' = never attempted)."""

    enrolment_id: int
    full_name: str
    unit: str
    email: str
    status: str  # '' | sending | sent | failed | stale (sent, but the badge was re-issued since)
    reason: str
    attempts: int
    updated_at: datetime | None


@dataclass(frozen=True, slots=True)
class MailingCounts:
    with_email: int
    without_email: int
    sent: int
    failed: int
    sending: int
    to_send: int  # what an "unsent" run would mail now


_ROWS = (
    "SELECT e.id, p.full_name, COALESCE(u.name, '') AS unit, p.email, b.code, m.status, m.code AS mailed_code,"
    " m.reason, m.attempts, m.updated_at"
    " FROM enrolments e JOIN participants p ON p.id = e.participant_id LEFT JOIN units u ON u.id = p.unit_id"
    " JOIN badges b ON b.enrolment_id = e.id AND b.revoked_at IS NULL"
    " LEFT JOIN badge_mailings m ON m.enrolment_id = e.id"
    " WHERE e.course_id = ? ORDER BY u.name_key, p.name_key, e.id"
)


def _state(row: sqlite3.Row) -> str:
    status = row["status"] or ""
    if status == "sent" and row["mailed_code"] != row["code"]:
        return "stale"
    return status


def _wanted(state: str, mode: str) -> bool:
    if mode == "all":
        return True
    if mode == "failed":
        return state == "failed"
    return state in ("", "failed", "stale")


def list_recipients(conn: sqlite3.Connection, course_id: int, mode: str) -> list[Recipient]:
    """The people a run in `mode` (see MODES) mails, in roster order; only those with an address."""
    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r}")
    return [
        Recipient(r["id"], r["full_name"], r["unit"], r["email"], r["code"], r["attempts"] or 0)
        for r in conn.execute(_ROWS, (course_id,))
        if r["email"].strip() and _wanted(_state(r), mode)
    ]


def list_results(conn: sqlite3.Connection, course_id: int) -> list[MailingResult]:
    """Everyone on the course with an active badge and their email state, in roster order."""
    return [
        MailingResult(r["id"], r["full_name"], r["unit"], r["email"], _state(r), r["reason"] or "",
                      r["attempts"] or 0, from_db(r["updated_at"]))
        for r in conn.execute(_ROWS, (course_id,))
    ]


def count_results(conn: sqlite3.Connection, course_id: int) -> MailingCounts:
    results = list_results(conn, course_id)
    with_email = [r for r in results if r.email.strip()]
    states = [r.status for r in with_email]
    return MailingCounts(
        with_email=len(with_email), without_email=len(results) - len(with_email), sent=states.count("sent"),
        failed=states.count("failed"), sending=states.count("sending"),
        to_send=sum(1 for s in states if _wanted(s, "unsent")),
    )


def mark_sending(conn: sqlite3.Connection, course_id: int, recipient: Recipient, now: datetime) -> bool:
    """Record the attempt before the SMTP conversation starts (see the migration for why). False, and nothing
    written, if another run has attempted this person since this run chose them (their attempts changed): two
    runs started together (a double click, two server processes, the command line) never both mail one person."""
    changed = conn.execute(
        "INSERT INTO badge_mailings (enrolment_id, course_id, email, code, status, reason, attempts, updated_at)"
        " VALUES (?, ?, ?, ?, 'sending', '', 1, ?)"
        " ON CONFLICT (enrolment_id) DO UPDATE SET email = excluded.email, code = excluded.code, status = 'sending',"
        " reason = '', attempts = badge_mailings.attempts + 1, updated_at = excluded.updated_at"
        " WHERE badge_mailings.attempts = ?",
        (recipient.enrolment_id, course_id, recipient.email, recipient.code, to_db(now), recipient.attempts),
    ).rowcount
    return changed == 1


def mark_sent(conn: sqlite3.Connection, enrolment_id: int, now: datetime) -> None:
    conn.execute(
        "UPDATE badge_mailings SET status = 'sent', reason = '', updated_at = ?, sent_at = ? WHERE enrolment_id = ?",
        (to_db(now), to_db(now), enrolment_id),
    )


def mark_failed(conn: sqlite3.Connection, enrolment_id: int, reason: str, now: datetime) -> None:
    conn.execute(
        "UPDATE badge_mailings SET status = 'failed', reason = ?, updated_at = ? WHERE enrolment_id = ?",
        (reason[:500], to_db(now), enrolment_id),
    )
