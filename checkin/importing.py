"""Bringing a parsed roster into a course: match people already there, add the new, update the changed."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from .roster import RosterRow
from .store import people
from .store.people import PersonDetails, RosterEntry
from .text import fold, unit_key


@dataclass(frozen=True, slots=True)
class ImportResult:
    added: int
    updated: int
    unchanged: int


def _details(row: RosterRow) -> PersonDetails:
    return PersonDetails(row.full_name, row.unit, row.position, row.phone, row.email, row.member_code)


def _entry_details(entry: RosterEntry) -> PersonDetails:
    return PersonDetails(entry.full_name, entry.unit, entry.position, entry.phone, entry.email, entry.member_code)


class Matcher:
    """Finds the enrolled person a roster row describes: same member code, else same phone,
    else same name and unit (ignoring case, spaces and diacritics)."""

    def __init__(self, roster: Iterable[RosterEntry]):
        self.by_code, self.by_phone, self.by_name = {}, {}, {}
        for entry in roster:
            self.add(entry)

    def add(self, entry: RosterEntry) -> None:
        if entry.member_code:
            self.by_code.setdefault(entry.member_code.lower(), entry)
        if entry.phone:
            self.by_phone.setdefault(entry.phone, entry)
        self.by_name.setdefault((fold(entry.full_name), unit_key(entry.unit)), entry)

    def find(self, row: RosterRow) -> RosterEntry | None:
        if row.member_code and row.member_code.lower() in self.by_code:
            return self.by_code[row.member_code.lower()]
        if row.phone and row.phone in self.by_phone:
            return self.by_phone[row.phone]
        return self.by_name.get((fold(row.full_name), unit_key(row.unit)))


def apply_roster(conn: sqlite3.Connection, course_id: int, rows: Iterable[RosterRow], now: datetime) -> ImportResult:
    """Add and update in the caller's transaction: all rows go in together or none.
    Nobody is removed and nobody's check-ins change: re-importing an updated file is safe."""
    matcher = Matcher(people.list_roster(conn, course_id))
    added = updated = unchanged = 0
    for row in rows:
        details = _details(row)
        entry = matcher.find(row)
        if entry is None:
            participant_id = people.insert_participant(conn, details, now)
            enrolment_id = people.enrol(conn, course_id, participant_id, now)
            matcher.add(RosterEntry(enrolment_id, participant_id, *_fields(details)))
            added += 1
        elif _merged(_entry_details(entry), details) != _entry_details(entry):
            people.update_participant(conn, entry.participant_id, _merged(_entry_details(entry), details), now)
            updated += 1
        else:
            unchanged += 1
    return ImportResult(added, updated, unchanged)


def _fields(d: PersonDetails) -> tuple:
    return (d.full_name, d.unit, d.position, d.phone, d.email, d.member_code)


def _merged(old: PersonDetails, new: PersonDetails) -> PersonDetails:
    """New values win; a blank cell in the new file does not erase what we knew."""
    return PersonDetails(*(n or o for o, n in zip(_fields(old), _fields(new))))
