"""Pure: which people of a course match the organiser's search and filters on the participants page."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from .attendance import PersonAttendance
from ..text import fold

STATUS_FILTERS = ("", "arrived", "none", "present", "late", "excused", "absent", "pending", "left_early")


@dataclass(frozen=True, slots=True)
class PeopleFilter:
    query: str = ""
    unit: str = ""
    session_id: int | None = None
    status: str = ""  # one of STATUS_FILTERS; "" for any


def _matches_query(person: PersonAttendance, tokens: list[str], compact: str) -> bool:
    entry = person.person
    name = fold(entry.full_name)
    if all(token in name for token in tokens):
        return True
    if compact.isdigit() and len(compact) >= 3 and compact in entry.phone:
        return True
    return bool(entry.member_code) and entry.member_code.casefold() == compact


def _matches_status(person: PersonAttendance, session_id: int | None, status: str) -> bool:
    if not status:
        return True
    statuses = [person.statuses[session_id]] if session_id in person.statuses else list(person.statuses.values())
    arrived = [s in ("present", "late", "left_early") for s in statuses]
    if status == "arrived":
        return any(arrived)
    if status == "none":
        return not any(arrived)
    return status in statuses


def filter_people(people: Iterable[PersonAttendance], wanted: PeopleFilter) -> list[PersonAttendance]:
    """Name words in any order, diacritics and case ignored ("nguyen huong" finds "Nguyễn Thị Hương"),
    or part of the phone, or the member code; then the unit and the attendance status (in one session,
    or in any session when none is chosen)."""
    tokens = fold(wanted.query).split()
    compact = "".join(tokens)
    found = []
    for person in people:
        if tokens and not _matches_query(person, tokens, compact):
            continue
        if wanted.unit and person.person.unit != wanted.unit:
            continue
        if not _matches_status(person, wanted.session_id, wanted.status):
            continue
        found.append(person)
    return found
