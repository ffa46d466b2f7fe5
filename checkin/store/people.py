"""Units, participants, their enrolments on courses, and badge codes."""

from __future__ import annotations

import secrets
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime

from ..clock import from_db, to_db
from ..models import BadgeHolder, Checkin
from ..text import clean, fold, unit_key
from . import scans
from .dialect import for_update
from .persons import link_participant, refresh_participant_person
from .scans import AttendanceRow


@dataclass(frozen=True, slots=True)
class PersonDetails:
    full_name: str
    unit: str
    position: str = ""
    phone: str = ""
    email: str = ""
    member_code: str = ""


@dataclass(frozen=True, slots=True)
class PersonMatch:
    """What an usher's search shows: enough to recognise the person, nothing more."""

    enrolment_id: int
    full_name: str
    unit: str
    position: str


@dataclass(frozen=True, slots=True)
class BadgeLink:
    enrolment_id: int
    full_name: str
    unit: str
    position: str
    phone: str
    email: str
    code: str


def new_badge_code() -> str:
    """128 random bits, URL-safe base64: 22 characters, a version-2 QR at level M.

    Drawn again when it would start with "-" or "_": such a code looks like an option on a command line,
    and a spreadsheet cell starting with "-" is a formula that exports must neutralise (and so change)."""
    while True:
        code = secrets.token_urlsafe(16)
        if code[0].isalnum():
            return code


def get_or_insert_unit(conn: sqlite3.Connection, name: str) -> int:
    """The unit with this name, matched ignoring case, spaces and diacritics; created on first sight."""
    name = clean(name)
    key = unit_key(name)
    row = conn.execute("SELECT id FROM units WHERE name_key = ?", (key,)).fetchone()
    if row:
        return row[0]
    return conn.execute("INSERT INTO units (name, name_key) VALUES (?, ?) RETURNING id", (name, key)).fetchone()[0]


def insert_participant(conn: sqlite3.Connection, person: PersonDetails, now: datetime,
                       units: dict[str, int] | None = None) -> int:
    """units: the caller's {unit name: id} for one transaction (an import's chunk: a look-up saved per row)."""
    if not clean(person.unit):
        unit_id = None
    elif units is not None:
        unit_id = units.get(person.unit)
        if unit_id is None:
            unit_id = units[person.unit] = get_or_insert_unit(conn, person.unit)
    else:
        unit_id = get_or_insert_unit(conn, person.unit)
    name = clean(person.full_name)
    return conn.execute(
        "INSERT INTO participants (full_name, name_key, unit_id, position, phone, email, member_code,"
        " created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
        (
            name, fold(name), unit_id, clean(person.position), clean(person.phone), clean(person.email),
            clean(person.member_code), to_db(now), to_db(now),
        ),
    ).fetchone()[0]


def update_participant(conn: sqlite3.Connection, participant_id: int, person: PersonDetails, now: datetime) -> None:
    unit_id = get_or_insert_unit(conn, person.unit) if clean(person.unit) else None
    name = clean(person.full_name)
    conn.execute(
        "UPDATE participants SET full_name = ?, name_key = ?, unit_id = ?, position = ?, phone = ?, email = ?,"
        " member_code = ?, updated_at = ? WHERE id = ?",
        (
            name, fold(name), unit_id, clean(person.position), clean(person.phone), clean(person.email),
            clean(person.member_code), to_db(now), participant_id,
        ),
    )
    refresh_participant_person(conn, participant_id)  # the person's record follows their latest course


def enrol(conn: sqlite3.Connection, course_id: int, participant_id: int, now: datetime, *, link: bool = True) -> int:
    """Put a participant on a course with a fresh badge, linked to their person of the course's body (imports,
    walk-ins, nominations all come here: see store/persons.py); returns the enrolment id. link=False: the caller
    links a batch itself with persons.link_participants before its transaction ends (an import's chunk)."""
    enrolment_id = conn.execute(
        "INSERT INTO enrolments (course_id, participant_id, created_at) VALUES (?, ?, ?) RETURNING id",
        (course_id, participant_id, to_db(now)),
    ).fetchone()[0]
    # A new enrolment has no badge to revoke: its first code, without issue_badge's revoking update.
    conn.execute("INSERT INTO badges (code, enrolment_id, issued_at) VALUES (?, ?, ?)",
                 (new_badge_code(), enrolment_id, to_db(now)))
    if link:
        link_participant(conn, course_id, participant_id, now)
    return enrolment_id


_MANY_ROWS = 100  # rows per multi-row INSERT (9 values a participant: well under both stores' limits)


def _unit_id(conn: sqlite3.Connection, unit: str, units: dict[str, int] | None) -> int | None:
    if not clean(unit):
        return None
    if units is None:
        return get_or_insert_unit(conn, unit)
    unit_id = units.get(unit)
    if unit_id is None:
        unit_id = units[unit] = get_or_insert_unit(conn, unit)
    return unit_id


def enrol_many(conn: sqlite3.Connection, course_id: int, persons: Sequence[PersonDetails], now: datetime,
               units: dict[str, int] | None = None) -> list[int]:
    """insert_participant and enrol(link=False) for each of `persons` (an import's chunk), a multi-row INSERT
    per table instead of three statements a person: the same rows (and the same roster changes, by the tables'
    row triggers). Returns the new participant ids in the order of `persons`; the caller links them
    (persons.link_participants) before its transaction ends."""
    stamp = to_db(now)
    values = [
        (clean(p.full_name), fold(clean(p.full_name)), _unit_id(conn, p.unit, units), clean(p.position),
         clean(p.phone), clean(p.email), clean(p.member_code), stamp, stamp)
        for p in persons
    ]
    participant_ids: list[int] = []
    for start in range(0, len(values), _MANY_ROWS):
        part = values[start:start + _MANY_ROWS]
        returned = conn.execute(
            "INSERT INTO participants (full_name, name_key, unit_id, position, phone, email, member_code,"
            " created_at, updated_at) VALUES " + ", ".join(["(?, ?, ?, ?, ?, ?, ?, ?, ?)"] * len(part))
            + " RETURNING id, full_name, name_key, unit_id, position, phone, email, member_code",
            tuple(v for row in part for v in row),
        ).fetchall()
        # RETURNING's order is not guaranteed: each row goes back to the person with its values (people with
        # all the same values are interchangeable; the lower id to the earlier, as one by one would).
        by_values: dict[tuple, list[int]] = {}
        for r in sorted(returned, key=lambda r: r[0]):
            by_values.setdefault(tuple(r[1:]), []).append(r[0])
        for row in part:
            participant_ids.append(by_values[row[:7]].pop(0))
    enrolment_ids: dict[int, int] = {}
    for start in range(0, len(participant_ids), _MANY_ROWS):
        part = participant_ids[start:start + _MANY_ROWS]
        for enrolment_id, participant_id in conn.execute(
                "INSERT INTO enrolments (course_id, participant_id, created_at) VALUES "
                + ", ".join(["(?, ?, ?)"] * len(part)) + " RETURNING id, participant_id",
                tuple(v for pid in part for v in (course_id, pid, stamp))).fetchall():
            enrolment_ids[participant_id] = enrolment_id
    # New enrolments have no badge to revoke: their first codes, as enrol issues them.
    enrolments = [enrolment_ids[pid] for pid in participant_ids]
    for start in range(0, len(enrolments), _MANY_ROWS):
        part = enrolments[start:start + _MANY_ROWS]
        conn.execute("INSERT INTO badges (code, enrolment_id, issued_at) VALUES " + ", ".join(["(?, ?, ?)"] * len(part)),
                     tuple(v for eid in part for v in (new_badge_code(), eid, stamp)))
    return participant_ids


def issue_badge(conn: sqlite3.Connection, enrolment_id: int, now: datetime) -> str:
    """A new badge code for the enrolment; any earlier code becomes badge_revoked."""
    revoke_badge(conn, enrolment_id, now)
    code = new_badge_code()
    conn.execute(
        "INSERT INTO badges (code, enrolment_id, issued_at) VALUES (?, ?, ?)", (code, enrolment_id, to_db(now))
    )
    return code


def revoke_badge(conn: sqlite3.Connection, enrolment_id: int, now: datetime) -> int:
    """Revoke the enrolment's active badge (if any); returns how many codes were revoked."""
    return conn.execute(
        "UPDATE badges SET revoked_at = ? WHERE enrolment_id = ? AND revoked_at IS NULL", (to_db(now), enrolment_id)
    ).rowcount


# Who a badge belongs to, as the door needs it (store/door.py locks it in the scan context read on PostgreSQL).
HOLDER_SELECT = (
    "SELECT b.code, b.revoked_at, e.id AS enrolment_id, e.course_id, c.title AS course_title,"
    " p.id AS participant_id, p.full_name, COALESCE(u.name, '') AS unit, p.position"
    " FROM badges b JOIN enrolments e ON e.id = b.enrolment_id JOIN courses c ON c.id = e.course_id"
    " JOIN participants p ON p.id = e.participant_id LEFT JOIN units u ON u.id = p.unit_id"
)


def _holder(row: sqlite3.Row | None) -> BadgeHolder | None:
    if row is None:
        return None
    return BadgeHolder(
        code=row["code"], revoked=row["revoked_at"] is not None, enrolment_id=row["enrolment_id"],
        course_id=row["course_id"], course_title=row["course_title"], participant_id=row["participant_id"],
        full_name=row["full_name"], unit=row["unit"], position=row["position"],
    )


def get_badge_holder(conn: sqlite3.Connection, code: str, *, lock: bool = False) -> BadgeHolder | None:
    """Who a badge code belongs to, revoked or not; None for a code never issued.

    lock: keep the enrolment locked until the commit (a scan decides on it, see store/dialect.py)."""
    sql = HOLDER_SELECT + " WHERE b.code = ?" + (for_update(conn, "e") if lock else "")
    return _holder(conn.execute(sql, (code,)).fetchone())


def get_badge_holder_and_checkin(
    conn: sqlite3.Connection, code: str, session_id: int
) -> tuple[BadgeHolder | None, Checkin | None]:
    """get_badge_holder and scans.get_checkin of the holder in this session, in one statement. SQLite only: its
    writer holds the whole database from BEGIN IMMEDIATE, so nothing changes between the two reads. Not on
    PostgreSQL: there the attendance is read after the enrolment's lock is granted, and a statement that waits
    for the lock still sees the attendance as it was before the wait."""
    row = conn.execute(
        HOLDER_SELECT[:HOLDER_SELECT.index(" FROM ")] + ", a.scan_id, a.checked_in_at" + HOLDER_SELECT[HOLDER_SELECT.index(" FROM "):]
        + " LEFT JOIN attendance a ON a.enrolment_id = e.id AND a.session_id = ? AND a.status IN ('present', 'late')"
        " WHERE b.code = ?",
        (session_id, code),
    ).fetchone()
    if row is None:
        return None, None
    return _holder(row), (Checkin(row["scan_id"], from_db(row["checked_in_at"])) if row["scan_id"] is not None else None)


def lock_enrolment(conn: sqlite3.Connection, enrolment_id: int) -> None:
    """Keep the enrolment locked until the commit: its attendance is about to be recounted (see dialect.py)."""
    conn.execute("SELECT id FROM enrolments WHERE id = ?" + for_update(conn), (enrolment_id,)).fetchall()


def get_enrolment_badge_holder(conn: sqlite3.Connection, enrolment_id: int, *, lock: bool = False) -> BadgeHolder | None:
    """The enrolment's current badge (its newest one, so a revoked-only enrolment shows as revoked)."""
    return _holder(
        conn.execute(
            HOLDER_SELECT + " WHERE b.enrolment_id = ? ORDER BY b.revoked_at IS NULL DESC, b.issued_at DESC LIMIT 1"
            + (for_update(conn, "e") if lock else ""),
            (enrolment_id,),
        ).fetchone()
    )


def _like(token: str) -> str:
    return "%" + token.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def search_enrolments(conn: sqlite3.Connection, course_id: int, query: str, limit: int = 10) -> list[PersonMatch]:
    """People on the course whose name holds every word of the query (diacritics and case ignored),
    or whose phone or member code holds it. The caller enforces the minimum query length."""
    tokens = fold(query).split()
    if not tokens:
        return []
    name_clauses = " AND ".join("p.name_key LIKE ? ESCAPE '\\'" for _ in tokens)
    compact = "".join(tokens)
    rows = conn.execute(
        "SELECT e.id, p.full_name, COALESCE(u.name, '') AS unit, p.position"
        " FROM enrolments e JOIN participants p ON p.id = e.participant_id LEFT JOIN units u ON u.id = p.unit_id"
        f" WHERE e.course_id = ? AND (({name_clauses}) OR p.phone LIKE ? ESCAPE '\\'"
        " OR (p.member_code <> '' AND LOWER(p.member_code) = ?))"
        " ORDER BY p.name_key, e.id LIMIT ?",
        (course_id, *[_like(t) for t in tokens], _like(compact), compact, limit),
    )
    return [PersonMatch(r[0], r[1], r[2], r[3]) for r in rows]


def iter_badge_links(conn: sqlite3.Connection, course_id: int) -> Iterator[BadgeLink]:
    """Every enrolment with its active badge code, sorted by unit then name (for mail merge and printing)."""
    rows = conn.execute(
        "SELECT e.id, p.full_name, COALESCE(u.name, '') AS unit, p.position, p.phone, p.email, b.code"
        " FROM enrolments e JOIN participants p ON p.id = e.participant_id LEFT JOIN units u ON u.id = p.unit_id"
        " JOIN badges b ON b.enrolment_id = e.id AND b.revoked_at IS NULL"
        " WHERE e.course_id = ? ORDER BY u.name_key, p.name_key, e.id",
        (course_id,),
    )
    for r in rows:
        yield BadgeLink(*r)


def count_enrolments(conn: sqlite3.Connection, course_id: int) -> int:
    return conn.execute("SELECT COUNT(*) FROM enrolments WHERE course_id = ?", (course_id,)).fetchone()[0]


@dataclass(frozen=True, slots=True)
class RosterEntry:
    enrolment_id: int
    participant_id: int
    full_name: str
    unit: str
    position: str
    phone: str
    email: str
    member_code: str


_ROSTER = (
    "SELECT e.id, p.id, p.full_name, COALESCE(u.name, ''), p.position, p.phone, p.email, p.member_code"
    " FROM enrolments e JOIN participants p ON p.id = e.participant_id LEFT JOIN units u ON u.id = p.unit_id"
    " WHERE e.course_id = ?"
)


def list_roster(conn: sqlite3.Connection, course_id: int) -> list[RosterEntry]:
    """Everyone on the course, sorted by unit then name."""
    rows = conn.execute(_ROSTER + " ORDER BY u.name_key, p.name_key, e.id", (course_id,))
    return [RosterEntry(*r) for r in rows]


def list_roster_entries(conn: sqlite3.Connection, course_id: int, enrolment_ids: Iterable[int]) -> list[RosterEntry]:
    """These enrolments of the course (others are left out), in id order."""
    ids = sorted(set(enrolment_ids))
    entries: list[RosterEntry] = []
    for start in range(0, len(ids), 500):
        part = ids[start:start + 500]
        marks = ", ".join("?" * len(part))
        rows = conn.execute(_ROSTER + f" AND e.id IN ({marks}) ORDER BY e.id", (course_id, *part))
        entries.extend(RosterEntry(*r) for r in rows)
    return entries


def list_badge_links(
    conn: sqlite3.Connection, course_id: int, unit: str | None = None, enrolment_ids: Iterable[int] | None = None
) -> list[BadgeLink]:
    """Active badges of the course (sorted as iter_badge_links), narrowed to one unit (matched ignoring
    case, spaces and diacritics) and/or to the given enrolments."""
    links = list(iter_badge_links(conn, course_id))
    if unit:
        key = unit_key(unit)
        links = [link for link in links if unit_key(link.unit) == key]
    if enrolment_ids is not None:
        wanted = set(enrolment_ids)
        links = [link for link in links if link.enrolment_id in wanted]
    return links


def list_enrolment_attendance(conn: sqlite3.Connection, enrolment_id: int) -> list[AttendanceRow]:
    """This person's attendance rows (present / late / excused), one per session at most."""
    rows = conn.execute(
        f"SELECT enrolment_id, session_id, {scans.STATUS_SQL}, scan_id, checked_in_at, note, checked_out_at"
        " FROM attendance a WHERE enrolment_id = ?",
        (enrolment_id,),
    )
    return [AttendanceRow(r[0], r[1], r[2], r[3], from_db(r[4]), r[5], from_db(r[6])) for r in rows]
