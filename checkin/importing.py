"""Bringing a parsed roster into a course: match people already there, add the new, update the changed."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime

from .roster import RosterParse, RosterRow
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
        return self.find_with_basis(row)[0]

    def find_with_basis(self, row: RosterRow) -> tuple[RosterEntry | None, str]:
        """The matching entry and what matched: "member_code", "phone", "name_unit" (or None, "")."""
        if row.member_code and row.member_code.lower() in self.by_code:
            return self.by_code[row.member_code.lower()], "member_code"
        if row.phone and row.phone in self.by_phone:
            return self.by_phone[row.phone], "phone"
        entry = self.by_name.get((fold(row.full_name), unit_key(row.unit)))
        return entry, ("name_unit" if entry else "")


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
    """New values win; a blank cell in the new file does not erase what we knew, and a unit spelled
    another way ("Sở Y Tế" for "Sở Y tế") is the same unit, not a change."""
    merged = PersonDetails(*(n or o for o, n in zip(_fields(old), _fields(new))))
    if unit_key(merged.unit) == unit_key(old.unit):
        merged = replace(merged, unit=old.unit)
    return merged


# ---------------------------------------------------------------- preview


@dataclass(frozen=True, slots=True)
class RowPlan:
    """What confirming would do with one recognised row."""

    row: RosterRow
    action: str  # "add" | "update" | "unchanged"
    match: RosterEntry | None  # the person already on the course it was matched to (None: new, or new in this file)
    basis: str  # "member_code" | "phone" | "name_unit" | ""
    changes: tuple[str, ...]  # fields whose stored value would change
    suspicious: bool  # matched by phone or member code although the name differs: maybe two people


@dataclass(frozen=True, slots=True)
class ImportPreview:
    parse: RosterParse
    plans: tuple[RowPlan, ...]

    def count(self, action: str) -> int:
        return sum(1 for plan in self.plans if plan.action == action)

    @property
    def duplicates(self) -> list[RowPlan]:
        """Rows that describe someone already on the course (same member code, phone, or name and unit):
        they update that person rather than adding a second one."""
        return [plan for plan in self.plans if plan.match is not None]


def preview_roster(parsed: RosterParse, roster: Iterable[RosterEntry]) -> ImportPreview:
    """What `apply_roster` would do with these rows on a course holding `roster`, without writing.
    Pure, and the same matching as apply_roster, so the preview and the import agree."""
    matcher = Matcher(roster)
    plans = []
    for row in parsed.rows:
        details = _details(row)
        entry, basis = matcher.find_with_basis(row)
        if entry is None:
            matcher.add(RosterEntry(-row.row_number, -row.row_number, *_fields(details)))
            plans.append(RowPlan(row, "add", None, "", (), False))
            continue
        old = _entry_details(entry)
        new = _merged(old, details)
        changes = tuple(name for name, o, n in zip(_FIELD_NAMES, _fields(old), _fields(new)) if o != n)
        suspicious = basis in ("phone", "member_code") and fold(entry.full_name) != fold(row.full_name)
        known = entry if entry.enrolment_id > 0 else None
        plans.append(RowPlan(row, "update" if changes else "unchanged", known, basis, changes, suspicious))
    return ImportPreview(parsed, tuple(plans))


_FIELD_NAMES = ("full_name", "unit", "position", "phone", "email", "member_code")


def likely_duplicates(roster: Iterable[RosterEntry], person: PersonDetails) -> list[RosterEntry]:
    """People on the course with the same name and unit (case, spaces and diacritics ignored) or
    the same phone as `person`: shown before adding someone by hand or at the door."""
    name, unit = fold(person.full_name), unit_key(person.unit)
    return [
        entry for entry in roster
        if (fold(entry.full_name) == name and unit_key(entry.unit) == unit) or (person.phone and entry.phone == person.phone)
    ]
