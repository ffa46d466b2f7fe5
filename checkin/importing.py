"""Bringing a parsed roster into a course: match people already there, add the new, update the changed."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator
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


@dataclass(frozen=True, slots=True)
class Match:
    entry: RosterEntry | None  # the person the row describes
    basis: str  # "member_code" | "phone" | "name_unit" | ""
    # No match, but someone with the row's member code or phone and another name: a different person (two
    # cadres giving their unit's office phone), added as new and shown to the organiser to check.
    lookalike: RosterEntry | None = None
    lookalike_basis: str = ""


class Matcher:
    """Finds the enrolled person a roster row describes: same member code, else same phone, each only with the
    same name (ignoring case, spaces and diacritics); else same name and unit."""

    def __init__(self, roster: Iterable[RosterEntry]):
        self.by_code, self.by_phone, self.by_name = {}, {}, {}
        for entry in roster:
            self.add(entry)

    def _keys(self, entry: RosterEntry) -> list[tuple[dict, object]]:
        keys: list[tuple[dict, object]] = [(self.by_name, (fold(entry.full_name), unit_key(entry.unit)))]
        if entry.member_code:
            keys.append((self.by_code, entry.member_code.lower()))
        if entry.phone:
            keys.append((self.by_phone, entry.phone))
        return keys

    def add(self, entry: RosterEntry) -> None:
        for index, key in self._keys(entry):
            index.setdefault(key, entry)

    def replace(self, old: RosterEntry, new: RosterEntry) -> None:
        """After an update: a later row of the file matches the person as they are now."""
        for index, key in self._keys(old):
            if index.get(key) is old:
                del index[key]
        for index, key in self._keys(new):
            if index.get(key) is None:
                index[key] = new

    def find(self, row: RosterRow) -> Match:
        name = fold(row.full_name)
        lookalike: tuple[RosterEntry, str] | None = None
        for index, key, basis in ((self.by_code, row.member_code.lower(), "member_code"),
                                  (self.by_phone, row.phone, "phone")):
            entry = index.get(key) if key else None
            if entry is None:
                continue
            if fold(entry.full_name) == name:
                return Match(entry, basis)
            lookalike = lookalike or (entry, basis)
        entry = self.by_name.get((name, unit_key(row.unit)))
        if entry is not None:
            return Match(entry, "name_unit")
        return Match(None, "", *lookalike) if lookalike else Match(None, "")


@dataclass(frozen=True, slots=True)
class _Decision:
    row: RosterRow
    action: str  # "add" | "update" | "unchanged"
    match: Match
    details: PersonDetails  # what is stored for the person after this row
    changes: tuple[str, ...]


def _decide(roster: Iterable[RosterEntry], rows: Iterable[RosterRow]) -> Iterator[_Decision]:
    """What each row does, in order: the one rule behind both the preview and the import. A person added by an
    earlier row of the file stands in the matcher with negative ids (-row number)."""
    matcher = Matcher(roster)
    for row in rows:
        details = _details(row)
        match = matcher.find(row)
        if match.entry is None:
            matcher.add(RosterEntry(-row.row_number, -row.row_number, *_fields(details)))
            yield _Decision(row, "add", match, details, ())
            continue
        old = _entry_details(match.entry)
        new = _merged(old, details)
        changes = tuple(name for name, o, n in zip(_FIELD_NAMES, _fields(old), _fields(new)) if o != n)
        if changes:
            matcher.replace(match.entry, RosterEntry(match.entry.enrolment_id, match.entry.participant_id, *_fields(new)))
        yield _Decision(row, "update" if changes else "unchanged", match, new, changes)


def apply_roster(conn: sqlite3.Connection, course_id: int, rows: Iterable[RosterRow], now: datetime) -> ImportResult:
    """Add and update in the caller's transaction: all rows go in together or none.
    Nobody is removed and nobody's check-ins change: re-importing an updated file is safe."""
    added = updated = unchanged = 0
    inserted: dict[int, int] = {}  # -row number -> participant id, for people added by an earlier row
    for decision in _decide(people.list_roster(conn, course_id), rows):
        if decision.action == "add":
            participant_id = people.insert_participant(conn, decision.details, now)
            people.enrol(conn, course_id, participant_id, now)
            inserted[-decision.row.row_number] = participant_id
            added += 1
        elif decision.action == "update":
            participant_id = decision.match.entry.participant_id
            people.update_participant(conn, inserted.get(participant_id, participant_id), decision.details, now)
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
    # Added as a new person although `match` has the same phone or member code under another name: two people
    # sharing an office phone, or one person's name typed two ways. The organiser checks.
    suspicious: bool


@dataclass(frozen=True, slots=True)
class ImportPreview:
    parse: RosterParse
    plans: tuple[RowPlan, ...]

    def count(self, action: str) -> int:
        return sum(1 for plan in self.plans if plan.action == action)

    @property
    def duplicates(self) -> list[RowPlan]:
        """Rows that describe someone already on the course (same member code, phone, or name and unit):
        they update that person rather than adding a second one; and suspicious rows, added beside a look-alike."""
        return [plan for plan in self.plans if plan.match is not None]


def preview_roster(parsed: RosterParse, roster: Iterable[RosterEntry]) -> ImportPreview:
    """What `apply_roster` would do with these rows on a course holding `roster`, without writing.
    Pure, and the same decisions as apply_roster, so the preview and the import agree."""
    plans = []
    for decision in _decide(roster, parsed.rows):
        match = decision.match
        if decision.action == "add":
            # Someone on the course shares the phone or member code under another name: added, but flagged.
            known = match.lookalike if match.lookalike and match.lookalike.enrolment_id > 0 else None
            plans.append(RowPlan(decision.row, "add", known, match.lookalike_basis if known else "", (),
                                 known is not None))
            continue
        known = match.entry if match.entry.enrolment_id > 0 else None
        plans.append(RowPlan(decision.row, decision.action, known, match.basis, decision.changes, False))
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
