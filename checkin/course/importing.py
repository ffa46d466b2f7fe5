"""Bringing a parsed roster into a course: match people already there, add the new, update the changed.

A confirmed import is applied in chunks of CHUNK_ROWS rows, each its own short write transaction, so that the
door's scans never wait long behind it (20,000 rows in one transaction held the single writer for over a
second). Each chunk decides its rows against the course as it stands then (the people added or edited since
the previous chunk, by this import or anyone else, are taken into account), which is what importing those rows
on their own would do. Importing is idempotent (a row matching someone already there updates them, or changes
nothing), so an import cut short (a server restarted) is completed by importing the same file again.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import lru_cache

from ..roster import RosterParse, RosterRow
from ..store import people, persons
from ..store import offline as roster_changes
from ..store.db import read_snapshot
from ..store.people import PersonDetails, RosterEntry
from ..text import fold, unit_key

# A chunk is at most CHUNK_ROWS rows and CHUNK_SECONDS of the writer (at least one row): on a busy machine a row
# takes longer, and the chunk holds fewer. Between two chunks the import rests as long as the last one took (at
# least PAUSE_SECONDS, at most PAUSE_MAX): the door's scans always get at least half of the writer.
CHUNK_ROWS = 100
CHUNK_SECONDS = 0.010
PAUSE_SECONDS = 0.005
PAUSE_MAX = 0.05


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


# A row's name is folded to look it up and again to index it: a small cache saves the second time (and units
# repeat all through a file).
_fold = lru_cache(maxsize=64)(fold)
_unit_key = lru_cache(maxsize=4096)(unit_key)
_MISSING = object()


class Matcher:
    """Finds the enrolled person a roster row describes: same member code, else same phone, each only with the
    same name (ignoring case, spaces and diacritics); else same name and unit.

    For a chunked import it records what a chunk changes (start_chunk), so that a chunk run a second time (its
    write batch rolled back and retried) first undoes its first attempt: no copy of the indexes per chunk."""

    def __init__(self, roster: Iterable[RosterEntry] = ()):
        self.by_code, self.by_phone, self.by_name = {}, {}, {}
        self.by_enrolment: dict[int, RosterEntry] = {}
        self._chunk: object = None
        self._undo: list[tuple[dict, object, object]] | None = None
        for entry in roster:
            self.add(entry)

    def start_chunk(self, chunk: object) -> None:
        """Begin recording the changes of `chunk`; if the last recording was of this same chunk, undo it first."""
        if self._undo and self._chunk == chunk:
            for index, key, previous in reversed(self._undo):
                if previous is _MISSING:
                    index.pop(key, None)
                else:
                    index[key] = previous
        self._chunk, self._undo = chunk, []

    def _set(self, index: dict, key: object, value: RosterEntry | None) -> None:
        if self._undo is not None:
            self._undo.append((index, key, index.get(key, _MISSING)))
        if value is None:
            del index[key]
        else:
            index[key] = value

    def _keys(self, entry: RosterEntry) -> list[tuple[dict, object]]:
        keys: list[tuple[dict, object]] = [(self.by_name, (_fold(entry.full_name), _unit_key(entry.unit)))]
        if entry.member_code:
            keys.append((self.by_code, entry.member_code.lower()))
        if entry.phone:
            keys.append((self.by_phone, entry.phone))
        return keys

    def add(self, entry: RosterEntry) -> None:
        self._set(self.by_enrolment, entry.enrolment_id, entry)
        for index, key in self._keys(entry):
            if key not in index:
                self._set(index, key, entry)

    def replace(self, old: RosterEntry, new: RosterEntry) -> None:
        """After an update: a later row of the file matches the person as they are now."""
        if self.by_enrolment.get(old.enrolment_id) is old:
            self._set(self.by_enrolment, old.enrolment_id, None)
        self._set(self.by_enrolment, new.enrolment_id, new)
        for index, key in self._keys(old):
            if index.get(key) is old:
                self._set(index, key, None)
        for index, key in self._keys(new):
            if index.get(key) is None:
                self._set(index, key, new)

    def refresh(self, entry: RosterEntry) -> None:
        """A person as they are now in the database (added or edited since the matcher was built)."""
        old = self.by_enrolment.get(entry.enrolment_id)
        if old is None:
            self.add(entry)
        elif old != entry:
            self.replace(old, entry)

    def find(self, row: RosterRow) -> Match:
        name = _fold(row.full_name)
        lookalike: tuple[RosterEntry, str] | None = None
        for index, key, basis in ((self.by_code, row.member_code.lower(), "member_code"),
                                  (self.by_phone, row.phone, "phone")):
            entry = index.get(key) if key else None
            if entry is None:
                continue
            if _fold(entry.full_name) == name:
                return Match(entry, basis)
            lookalike = lookalike or (entry, basis)
        entry = self.by_name.get((name, _unit_key(row.unit)))
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


def _decide(roster: Iterable[RosterEntry] | Matcher, rows: Iterable[RosterRow]) -> Iterator[_Decision]:
    """What each row does, in order: the one rule behind both the preview and the import. A person added by an
    earlier row of the file stands in the matcher with negative ids (-row number)."""
    matcher = roster if isinstance(roster, Matcher) else Matcher(roster)
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


@dataclass(frozen=True, slots=True)
class ImportProgress:
    """Where a chunked import stands between two chunks. A chunk returns a new progress; the matcher (and the
    ids of people added) it shares with the last one, and the matcher undoes a chunk's first attempt when that
    chunk runs again (a retried write batch), so a chunk always starts from the state its progress describes."""

    course_id: int
    matcher: Matcher
    change_cursor: int  # the newest roster change the matcher knows of
    position: int = 0  # rows done
    result: ImportResult = ImportResult(0, 0, 0)
    # A person added by an earlier row stands in the matcher with negative ids (-row number): their real
    # participant id, for a later row of the file that updates them.
    inserted: dict[int, int] = field(default_factory=dict, repr=False)


def start_import(conn: sqlite3.Connection, course_id: int) -> ImportProgress:
    """The course's people and the roster change cursor, read together (a read, before the first chunk)."""
    with read_snapshot(conn):  # the cursor says which changes the roster already holds
        roster = people.list_roster(conn, course_id)
        cursor = roster_changes.get_cursor(conn, course_id)[0]
    return ImportProgress(course_id, Matcher(roster), cursor)


def apply_roster_chunk(
    conn: sqlite3.Connection, rows: Sequence[RosterRow], progress: ImportProgress, now: datetime,
    size: int = CHUNK_ROWS, budget: float | None = None,
) -> ImportProgress:
    """Add and update the next `size` rows (fewer if `budget` seconds run out first), in the caller's (short)
    write transaction. Nobody is removed and nobody's check-ins change: re-importing an updated file is safe."""
    started = time.perf_counter()
    matcher, inserted = progress.matcher, progress.inserted  # a rerun overwrites its first attempt's ids
    matcher.start_chunk(progress.position)
    course_id = progress.course_id
    changed = roster_changes.list_changed_enrolments(conn, course_id, progress.change_cursor)
    for entry in people.list_roster_entries(conn, course_id, changed):
        matcher.refresh(entry)  # added or edited by someone else since the last chunk
    added, updated, unchanged = progress.result.added, progress.result.updated, progress.result.unchanged
    done = 0
    enrolled: list[int] = []
    units: dict[str, int] = {}  # this chunk's transaction only (a rolled-back chunk forgets its units)
    # The chunk's new people are written together (people.enrol_many: a statement a table, not three a row: on
    # PostgreSQL each statement is a round trip); before a row updating one of them, those so far.
    pending: list[_Decision] = []

    def add_pending() -> None:
        for decision, participant_id in zip(pending, people.enrol_many(
                conn, course_id, [d.details for d in pending], now, units)):
            enrolled.append(participant_id)
            inserted[-decision.row.row_number] = participant_id
        pending.clear()

    for decision in _decide(matcher, rows[progress.position:progress.position + size]):
        done += 1
        if decision.action == "add":
            pending.append(decision)
            added += 1
        elif decision.action == "update":
            participant_id = decision.match.entry.participant_id
            if any(-d.row.row_number == participant_id for d in pending):
                add_pending()  # added by an earlier row of this chunk
            people.update_participant(conn, inserted.get(participant_id, participant_id), decision.details, now)
            updated += 1
        else:
            unchanged += 1
        if budget is not None and time.perf_counter() - started > budget:
            break  # the next row is not decided yet: the next chunk starts with it
    add_pending()
    persons.link_participants(conn, course_id, enrolled, now)  # the chunk's new people, to the body's records
    # This chunk holds the write lock: every change up to here is in the matcher (its own writes included).
    return ImportProgress(course_id, matcher, roster_changes.get_cursor(conn, course_id)[0], progress.position + done,
                          ImportResult(added, updated, unchanged), inserted)


def apply_roster(conn: sqlite3.Connection, course_id: int, rows: Sequence[RosterRow], now: datetime) -> ImportResult:
    """Every row in the caller's one transaction (the demo, tests; imports of a real size go by chunks)."""
    progress = ImportProgress(course_id, Matcher(people.list_roster(conn, course_id)),
                              roster_changes.get_cursor(conn, course_id)[0])
    while progress.position < len(rows):
        progress = apply_roster_chunk(conn, rows, progress, now)
    return progress.result


def import_in_transactions(
    conn: sqlite3.Connection, course_id: int, rows: Sequence[RosterRow], now: datetime, *,
    transaction: Callable, size: int = CHUNK_ROWS,
) -> ImportResult:
    """The command line's import: a chunk per transaction(conn) (a context manager), on one connection."""
    progress = start_import(conn, course_id)
    while progress.position < len(rows):
        with transaction(conn):
            progress = apply_roster_chunk(conn, rows, progress, now, size)
    return progress.result


async def import_in_chunks(
    write: Callable[..., Awaitable], read: Callable[..., Awaitable], course_id: int, rows: Sequence[RosterRow],
    now: datetime, *, first: Callable[[sqlite3.Connection], None] | None = None,
    last: Callable[[sqlite3.Connection, ImportResult], None] | None = None, size: int = CHUNK_ROWS,
    budget: float | None = CHUNK_SECONDS,
) -> ImportResult:
    """The web's import: a write (db.write) per chunk; `first(conn)` runs in the first chunk's transaction (it
    may raise to stop the import before anything is written), `last(conn, result)` in the last one's."""
    progress = await read(start_import, course_id)

    def step(conn: sqlite3.Connection, progress: ImportProgress) -> ImportProgress:
        if progress.position == 0 and first is not None:
            first(conn)
        after = apply_roster_chunk(conn, rows, progress, now, size, budget)
        if after.position >= len(rows) and last is not None:
            last(conn, after.result)
        return after

    while True:
        started = time.perf_counter()
        progress = await write(step, progress)
        if progress.position >= len(rows):
            return progress.result
        # The door's scans waiting meanwhile go first, and the writer's thread rests.
        await asyncio.sleep(min(PAUSE_MAX, max(PAUSE_SECONDS, time.perf_counter() - started)))


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
