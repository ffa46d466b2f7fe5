"""Exports: rows as generators, and writers that keep Excel from mangling them."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from .attendance import PersonAttendance
from .models import CourseSession
from .store.people import BadgeLink

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: object) -> object:
    """A cell that Excel would run as a formula gets a leading apostrophe (OWASP's advice)."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def csv_text(rows: Iterable[Sequence[object]]) -> str:
    """CSV with a UTF-8 BOM so that Excel shows the diacritics; formula-like cells neutralised."""
    buffer = io.StringIO()
    buffer.write("\ufeff")
    writer = csv.writer(buffer, lineterminator="\r\n")
    for row in rows:
        writer.writerow([neutralise(v) for v in row])
    return buffer.getvalue()


def badge_link_rows(links: Iterable[BadgeLink], base_url: str) -> Iterator[list[str]]:
    """Mail merge: one row per participant, with the personal badge link to send."""
    yield ["full_name", "unit", "position", "phone", "email", "badge_link", "code"]
    for link in links:
        yield [link.full_name, link.unit, link.position, link.phone, link.email,
               f"{base_url.rstrip('/')}/b/{link.code}", link.code]


STATUS_LABELS = {"present": "present", "late": "late", "excused": "excused", "absent": "absent", "pending": "not yet"}


def attendance_rows(
    sessions: Sequence[CourseSession], people: Iterable[PersonAttendance], zone: ZoneInfo
) -> Iterator[list[object]]:
    """One row per participant and session: who, which session, status and check-in time."""
    yield ["full_name", "unit", "position", "phone", "session", "session_start", "status", "checked_in_at"]
    for person in people:
        for session in sessions:
            at: datetime | None = person.times[session.id]
            yield [
                person.person.full_name, person.person.unit, person.person.position, person.person.phone,
                session.title, session.starts_at.astimezone(zone).strftime("%Y-%m-%d %H:%M"),
                person.statuses[session.id], at.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S") if at else "",
            ]
