"""Keeping personal data no longer than needed (Decree 13/2023): per organising body, the contact details
(phone, e-mail, and the address a badge link was mailed to) of a course finished N months ago are erased; names, units, positions, attendance and
certificates stay, so the records and past reports keep their counts. Applied when the setting is saved and by
`checkin records retention` (run it daily, from cron or a systemd timer)."""

from __future__ import annotations

import sqlite3
from datetime import date

from ..errors import Problem
from ..store import persons, scans
from .merging import Actor

MAX_MONTHS = 240


def months_before(day: date, months: int) -> date:
    """The same day `months` earlier (the month's last day when it has fewer days)."""
    year, month = divmod(day.year * 12 + day.month - 1 - months, 12)
    month += 1
    for d in (day.day, 30, 29, 28):
        try:
            return date(year, month, d)
        except ValueError:
            continue
    raise AssertionError("unreachable")


def get_retention(conn: sqlite3.Connection, body_id: int) -> int | None:
    row = conn.execute("SELECT retention_months FROM bodies WHERE id = ?", (body_id,)).fetchone()
    return row[0] if row else None


def set_retention_tx(conn: sqlite3.Connection, who: Actor, body_id: int, months: int | None, today: date) -> int:
    """Save the setting (None: keep until erased by hand) and apply it at once; returns the records cleared."""
    if months is not None and not 1 <= months <= MAX_MONTHS:
        raise Problem(422, "retention_out_of_range", "Give the number of months as a whole number from 1 to 240, or "
                                                     "leave it empty to keep contact details until erased by hand.")
    conn.execute("UPDATE bodies SET retention_months = ? WHERE id = ?", (months, body_id))
    scans.insert_audit(conn, None, "retention_set", who.now, organiser_id=who.organiser_id, subject=f"body {body_id}",
                       detail=f"contact details kept {months} months after a course" if months else "kept until erased")
    return apply_retention_tx(conn, who, body_id, today)


def apply_retention_tx(conn: sqlite3.Connection, who: Actor, body_id: int, today: date) -> int:
    """Erase the contact details of the body's courses held before the retention period; returns how many course
    records were cleared (0 when there is no setting or nothing is due). Audited when it clears anything."""
    months = get_retention(conn, body_id)
    if not months:
        return 0
    cutoff = months_before(today, months)
    due = conn.execute(
        "SELECT p.id, p.person_id FROM participants p JOIN enrolments e ON e.participant_id = p.id"
        " JOIN courses c ON c.id = e.course_id WHERE c.body_id = ? AND c.course_date < ?"
        " AND (p.phone <> '' OR p.email <> '')", (body_id, cutoff.isoformat())).fetchall()
    for pid, _person in due:
        conn.execute("UPDATE participants SET phone = '', email = '' WHERE id = ?", (pid,))
        conn.execute("UPDATE badge_mailings SET email = '' WHERE enrolment_id IN"
                     " (SELECT id FROM enrolments WHERE participant_id = ?)", (pid,))
    for person_id in sorted({r[1] for r in due if r[1] is not None}):
        persons.refresh_person(conn, person_id)
    if due:
        scans.insert_audit(conn, None, "retention_apply", who.now, organiser_id=who.organiser_id,
                           subject=f"body {body_id}",
                           detail=f"contact details erased from {len(due)} course records of courses before {cutoff}")
    return len(due)
