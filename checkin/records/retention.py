"""Keeping personal data no longer than needed (Decree 13/2023): per organising body, the contact details
(phone, e-mail, and the address a badge link was mailed to) of a course finished N months ago are erased; names, units, positions, attendance and
certificates stay, so the records and past reports keep their counts. Applied when the setting is saved, by
every running server once a day (run_daily, in short writes), and by `checkin records retention`."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from datetime import date
from zoneinfo import ZoneInfo

from ..clock import Clock
from ..errors import Problem
from ..store import persons, scans
from .merging import Actor

log = logging.getLogger("checkin.records.retention")

MAX_MONTHS = 240
CHUNK = 100  # course records cleared by one write of the daily run: the door's scans get the writer in between
FIRST_RUN_SECONDS = 600.0  # the daily run's first pass, after a server starts (not while it warms up)
DAILY_SECONDS = 24 * 3600.0


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


def apply_retention_tx(conn: sqlite3.Connection, who: Actor, body_id: int, today: date, limit: int | None = None) -> int:
    """Erase the contact details of the body's courses held before the retention period; returns how many course
    records were cleared (0 when there is no setting or nothing is due; at most `limit`: call again while it
    returns that many). Audited when it clears anything."""
    months = get_retention(conn, body_id)
    if not months:
        return 0
    cutoff = months_before(today, months)
    due = conn.execute(
        "SELECT p.id, p.person_id FROM participants p JOIN enrolments e ON e.participant_id = p.id"
        " JOIN courses c ON c.id = e.course_id WHERE c.body_id = ? AND c.course_date < ?"
        " AND (p.phone <> '' OR p.email <> '') ORDER BY p.id" + (" LIMIT ?" if limit else ""),
        (body_id, cutoff.isoformat(), *((limit,) if limit else ()))).fetchall()
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


def _bodies_with_retention(conn: sqlite3.Connection) -> list[int]:
    return [r[0] for r in conn.execute("SELECT id FROM bodies WHERE retention_months IS NOT NULL ORDER BY id")]


async def apply_everywhere(db, clock: Clock, zone: str, *, chunk: int = CHUNK, pause: float = 0.02) -> int:
    """Every organising body's retention setting, applied in writes of at most `chunk` course records with a
    pause between them; returns how many were cleared. What a server runs once a day (run_daily)."""
    total = 0
    for body_id in await db.read(_bodies_with_retention):
        while True:
            now = clock()
            cleared = await db.write(apply_retention_tx, Actor(None, now), body_id,
                                     now.astimezone(ZoneInfo(zone)).date(), chunk)
            total += cleared
            if cleared < chunk:
                break
            await asyncio.sleep(pause)
    return total


async def run_daily(db, clock: Clock, zone: str, *, first_after: float = FIRST_RUN_SECONDS,
                    every: float = DAILY_SECONDS) -> None:
    """A server's daily pass over the retention settings, so that contact details go when they are due without
    anyone running `checkin records retention`. Several instances may each run it: a second finds nothing due."""
    await asyncio.sleep(first_after)
    while True:
        try:
            cleared = await apply_everywhere(db, clock, zone)
            if cleared:
                log.info("checkin: retention: contact details erased from %d course record(s)", cleared)
        except Exception:  # a failed pass is retried tomorrow; the server goes on
            log.exception("checkin: the daily retention pass failed")
        await asyncio.sleep(every)
