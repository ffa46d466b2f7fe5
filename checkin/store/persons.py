"""People across the courses of an organising body: linking each enrolled participant to a person, the
proposals an organiser confirms or rejects, and a person's details (those of their latest course).

Matching (the same rules as migration 0018, per body): the member code when given; otherwise the phone
(normalised) with the same name (case, spaces and diacritics ignored); otherwise nobody: a new person, and a
proposal for each record with the same name and unit, or with the same phone and another name (or another
member code). A record that already has an enrolment in the course is never a candidate (one person is on a
course once).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import datetime

from ..clock import from_db, to_db
from ..text import fold, unit_key
from .dialect import for_update

_PHONE_SEPARATORS = str.maketrans("", "", " .-()+")


def phone_key(phone: str) -> str:
    """The phone as matched: without spaces, dots, dashes, brackets and "+"; +84/84 as 0 (as the migration)."""
    key = phone.translate(_PHONE_SEPARATORS)
    if key.startswith("84") and len(key) == 11:
        key = "0" + key[2:]
    return key


def name_key(name: str) -> str:
    """The name as matched: case, diacritics and every space ignored ("Nguyễn  Thị Hương" = "nguyenthihuong")."""
    return fold(name).replace(" ", "")


@dataclass(frozen=True, slots=True)
class Person:
    id: int
    body_id: int
    full_name: str
    unit: str
    position: str
    phone: str
    email: str
    member_code: str
    merged_into: int | None
    erased_at: datetime | None


@dataclass(frozen=True, slots=True)
class Link:
    """What linking a participant did: the person, how it was found ("member_code", "phone", "new"), and the
    proposals it made."""

    person_id: int
    basis: str
    proposals: int = 0


_PERSON = (
    "SELECT pe.id, pe.body_id, pe.full_name, COALESCE(u.name, ''), pe.position, pe.phone, pe.email, pe.member_code,"
    " pe.merged_into, pe.erased_at FROM people pe LEFT JOIN units u ON u.id = pe.unit_id"
)


def _person(r) -> Person:
    return Person(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], from_db(r[9]))


def get_person(conn: sqlite3.Connection, person_id: int) -> Person | None:
    row = conn.execute(_PERSON + " WHERE pe.id = ?", (person_id,)).fetchone()
    return _person(row) if row else None


def get_participant_person(conn: sqlite3.Connection, participant_id: int) -> int | None:
    row = conn.execute("SELECT person_id FROM participants WHERE id = ?", (participant_id,)).fetchone()
    return row[0] if row else None


def link_participant(conn: sqlite3.Connection, course_id: int, participant_id: int, now: datetime) -> Link | None:
    """Link a participant just enrolled on a course to a person of the course's body (see the module's rules).
    None when the course has no body. Called by people.enrol, so every way onto a course links."""
    links = link_participants(conn, course_id, [participant_id], now)
    return links[0] if links else None


def _marks(values) -> str:
    return ", ".join("?" for _ in values)


def _in_chunks(values: list, size: int = 500):
    for start in range(0, len(values), size):
        yield values[start:start + size]


def link_participants(conn: sqlite3.Connection, course_id: int, participant_ids: list[int],
                      now: datetime) -> list[Link]:
    """Link participants just enrolled on one course, in their order: a handful of reads for all of them (an
    import's chunk), then a write per new person or proposal. The same as linking them one by one: people of
    one course never match each other (one person is on a course once), so their order changes nothing."""
    course = conn.execute("SELECT body_id, course_date FROM courses WHERE id = ?", (course_id,)).fetchone()
    if course is None or course[0] is None or not participant_ids:
        return []
    body_id, day = course[0], course[1]
    # Two enrolments of one body at once (two imports, a walk-in) must not both make a new record of one cadre:
    # on PostgreSQL the body's row is locked until the commit, so the second sees the first's people.
    conn.execute("SELECT id FROM bodies WHERE id = ?" + for_update(conn), (body_id,)).fetchall()
    rows = []
    for part in _in_chunks(list(participant_ids)):
        found = {r[0]: r for r in conn.execute(
            "SELECT id, full_name, name_key, unit_id, position, phone, email, member_code, person_id FROM participants"
            f" WHERE id IN ({_marks(part)})", tuple(part))}
        rows += [found[i] for i in part if i in found]
    keys = [(r, r[2].replace(" ", "") if r[1] else "", r[7].lower(), phone_key(r[5])) for r in rows]
    standing = " AND merged_into IS NULL AND erased_at IS NULL ORDER BY id"
    by_code: dict[str, list[int]] = {}
    by_phone: dict[str, list[tuple[int, str, str]]] = {}
    by_name: dict[tuple[str, int], list[int]] = {}
    codes = sorted({k[2] for k in keys if k[2]})
    for part in _in_chunks(codes):
        for pid, code in conn.execute(f"SELECT id, code_key FROM people WHERE body_id = ? AND code_key IN"
                                      f" ({_marks(part)})" + standing, (body_id, *part)):
            by_code.setdefault(code, []).append(pid)
    phones = sorted({k[3] for k in keys if k[3]})
    for part in _in_chunks(phones):
        for pid, name, code, phone in conn.execute(
                f"SELECT id, name_key, code_key, phone_key FROM people WHERE body_id = ? AND phone_key IN"
                f" ({_marks(part)})" + standing, (body_id, *part)):
            by_phone.setdefault(phone, []).append((pid, name, code))
    names = sorted({k[1] for k in keys if k[1] and k[0][3] is not None})
    for part in _in_chunks(names):
        for pid, name, unit_id in conn.execute(
                f"SELECT id, name_key, unit_id FROM people WHERE body_id = ? AND name_key IN ({_marks(part)})"
                + standing, (body_id, *part)):
            by_name.setdefault((name, unit_id), []).append(pid)
    # Which candidates are on this course already (never linked to it again, never proposed).
    candidates = sorted({c for ids in by_code.values() for c in ids} | {c for found in by_phone.values()
                        for c, _n, _k in found} | {c for ids in by_name.values() for c in ids})
    in_course: set[int] = set()
    for part in _in_chunks(candidates):
        in_course.update(r[0] for r in conn.execute(
            "SELECT DISTINCT p.person_id FROM participants p JOIN enrolments e ON e.participant_id = p.id"
            f" WHERE e.course_id = ? AND p.person_id IN ({_marks(part)})", (course_id, *part)))

    links: list[Link] = []
    linked: list[tuple[int, int]] = []  # (person, participant)
    for r, name, code, phone in keys:
        if r[8] is not None:  # enrolled before (on another course): already someone's
            refresh_person(conn, r[8])
            links.append(Link(r[8], "known"))
            continue
        found, basis, phone_others = None, "new", []
        for candidate in by_code.get(code, ()) if code else ():
            if candidate not in in_course:
                found, basis = candidate, "member_code"
                break
        if found is None and phone:
            for candidate, candidate_name, candidate_code in by_phone.get(phone, ()):
                if candidate in in_course:
                    continue
                if (candidate_name == name and (not code or not candidate_code or candidate_code == code)
                        and found is None):
                    found, basis = candidate, "phone"
                else:  # another name on the phone, or the same name under another member code: ask
                    phone_others.append(candidate)
        if found is not None:
            in_course.add(found)
            linked.append((found, r[0]))
            links.append(Link(found, basis))
            continue
        person_id = conn.execute("INSERT INTO people (body_id, created_at) VALUES (?, ?) RETURNING id",
                                 (body_id, to_db(now))).fetchone()[0]
        conn.execute("UPDATE participants SET person_id = ? WHERE id = ?", (person_id, r[0]))
        _set_details(conn, person_id, r)
        in_course.add(person_id)
        lookalikes = [(c, "phone") for c in phone_others]
        if name and r[3] is not None:
            lookalikes += [(c, "name_unit") for c in by_name.get((name, r[3]), ())]
        proposed, seen = 0, set()
        for other, why in lookalikes:
            if other in seen or other in in_course:
                continue
            seen.add(other)
            proposed += conn.execute(
                "INSERT INTO person_proposals (body_id, person_id, other_id, basis, status, created_at)"
                " VALUES (?, ?, ?, ?, 'open', ?) ON CONFLICT (person_id, other_id) DO NOTHING",
                (body_id, person_id, other, why, to_db(now))).rowcount
        links.append(Link(person_id, "new", proposed))
    if linked:
        conn.executemany("UPDATE participants SET person_id = ? WHERE id = ?", linked)
        _follow_latest(conn, dict((pid, participant) for pid, participant in linked), course_id, day,
                       {r[0]: r for r in rows})
    return links


def _set_details(conn: sqlite3.Connection, person_id: int, r) -> None:
    """A new person's details: those of their one participant (refresh_person's result without reading it)."""
    conn.execute(
        "UPDATE people SET full_name = ?, name_key = ?, unit_id = ?, position = ?, phone = ?, phone_key = ?,"
        " email = ?, member_code = ?, code_key = ? WHERE id = ?",
        (r[1], r[2].replace(" ", "") if r[1] else "", r[3], r[4], r[5], phone_key(r[5]), r[6], r[7], r[7].lower(),
         person_id))


_LATEST = (
    "SELECT p.full_name, p.name_key, p.unit_id, p.position, p.phone, p.email, p.member_code"
    " FROM participants p JOIN enrolments e ON e.participant_id = p.id JOIN courses c ON c.id = e.course_id"
    " WHERE p.person_id = ? ORDER BY c.course_date DESC, p.id DESC"
)


def refresh_person(conn: sqlite3.Connection, person_id: int) -> None:
    """The person's details and keys from their participants: each field from the latest course that gave it
    (a roster without phones does not forget the phone). Derived only, so a merge and its split are inverses."""
    rows = conn.execute(_LATEST, (person_id,)).fetchall()

    def latest(index: int, empty=""):
        return next((r[index] for r in rows if r[index] not in ("", None)), empty)

    name, phone, code = latest(0), latest(4), latest(6)
    full_name_key = next((r[1] for r in rows if r[0]), "")
    conn.execute(
        "UPDATE people SET full_name = ?, name_key = ?, unit_id = ?, position = ?, phone = ?, phone_key = ?,"
        " email = ?, member_code = ?, code_key = ? WHERE id = ?",
        (name, full_name_key.replace(" ", ""), latest(2, None), latest(3), phone, phone_key(phone), latest(5), code,
         code.lower(), person_id),
    )


def _follow_latest(conn: sqlite3.Connection, person_participant: dict[int, int], course_id: int, day: str,
                   rows: dict[int, tuple]) -> None:
    """refresh_person's result for people just linked to this course, without reading every course again where
    this course is their latest (an import of a new course): each field becomes the new one where it is given.
    The others (an older course imported late) are refreshed in full."""
    people_ids = sorted(person_participant)
    latest: dict[int, str] = {}
    for part in _in_chunks(people_ids):
        latest.update((r[0], r[1]) for r in conn.execute(
            "SELECT p.person_id, MAX(c.course_date) FROM participants p JOIN enrolments e ON e.participant_id = p.id"
            f" JOIN courses c ON c.id = e.course_id WHERE p.person_id IN ({_marks(part)}) AND e.course_id <> ?"
            " GROUP BY p.person_id", (*part, course_id)))
    updates = []
    for person_id in people_ids:
        if latest.get(person_id) is not None and latest[person_id] > day:
            refresh_person(conn, person_id)
            continue
        r = rows[person_participant[person_id]]
        updates.append((r[1], r[1], r[1], r[2].replace(" ", ""), r[3], r[4], r[4], r[5], r[5], r[5], phone_key(r[5]),
                        r[6], r[6], r[7], r[7], r[7], r[7].lower(), person_id))
    if updates:
        conn.executemany(
            "UPDATE people SET full_name = CASE WHEN ? <> '' THEN ? ELSE full_name END,"
            " name_key = CASE WHEN ? <> '' THEN ? ELSE name_key END, unit_id = COALESCE(?, unit_id),"
            " position = CASE WHEN ? <> '' THEN ? ELSE position END,"
            " phone = CASE WHEN ? <> '' THEN ? ELSE phone END, phone_key = CASE WHEN ? <> '' THEN ? ELSE phone_key END,"
            " email = CASE WHEN ? <> '' THEN ? ELSE email END,"
            " member_code = CASE WHEN ? <> '' THEN ? ELSE member_code END,"
            " code_key = CASE WHEN ? <> '' THEN ? ELSE code_key END WHERE id = ?", updates)


def refresh_participant_person(conn: sqlite3.Connection, participant_id: int) -> None:
    """After a participant's details were edited: their person follows."""
    person_id = get_participant_person(conn, participant_id)
    if person_id is not None:
        refresh_person(conn, person_id)


@dataclass(frozen=True, slots=True)
class Proposal:
    id: int
    basis: str
    status: str
    person: Person
    other: Person
    created_at: datetime


def list_open_proposals(conn: sqlite3.Connection, body_id: int, limit: int = 500) -> list[Proposal]:
    """Open proposals of the body between two records that are both still standing, oldest first."""
    rows = conn.execute(
        "SELECT pp.id, pp.basis, pp.status, pp.person_id, pp.other_id, pp.created_at FROM person_proposals pp"
        " JOIN people a ON a.id = pp.person_id JOIN people b ON b.id = pp.other_id"
        " WHERE pp.body_id = ? AND pp.status = 'open' AND a.merged_into IS NULL AND b.merged_into IS NULL"
        " AND a.erased_at IS NULL AND b.erased_at IS NULL ORDER BY pp.id LIMIT ?", (body_id, limit)).fetchall()
    return [Proposal(r[0], r[1], r[2], get_person(conn, r[3]), get_person(conn, r[4]), from_db(r[5])) for r in rows]


def get_proposal(conn: sqlite3.Connection, proposal_id: int) -> tuple[int, int, int, str] | None:
    """(body id, person id, other id, status) of a proposal."""
    row = conn.execute("SELECT body_id, person_id, other_id, status FROM person_proposals WHERE id = ?",
                       (proposal_id,)).fetchone()
    return (row[0], row[1], row[2], row[3]) if row else None


def decide_proposal(conn: sqlite3.Connection, proposal_id: int, status: str, organiser_id: int | None,
                    now: datetime) -> None:
    conn.execute("UPDATE person_proposals SET status = ?, decided_at = ?, organiser_id = ? WHERE id = ?",
                 (status, to_db(now), organiser_id, proposal_id))


def count_open_proposals(conn: sqlite3.Connection, body_id: int) -> int:
    """As many as list_open_proposals would list (without a limit)."""
    return conn.execute(
        "SELECT COUNT(*) FROM person_proposals pp JOIN people a ON a.id = pp.person_id JOIN people b ON b.id = pp.other_id"
        " WHERE pp.body_id = ? AND pp.status = 'open' AND a.merged_into IS NULL AND b.merged_into IS NULL"
        " AND a.erased_at IS NULL AND b.erased_at IS NULL", (body_id,)).fetchone()[0]


@dataclass(frozen=True, slots=True)
class PersonRow:
    id: int
    full_name: str
    unit: str
    position: str
    courses: int
    erased: bool


def _name_like(query: str) -> str:
    key = name_key(query)
    return "%" + key.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def search_people(conn: sqlite3.Connection, body_id: int, query: str = "", limit: int = 200,
                  offset: int = 0) -> list[PersonRow]:
    """The body's standing people whose name holds the query (diacritics and case ignored), with their courses,
    by unit and name; `limit` of them from `offset` (a page of the list)."""
    rows = conn.execute(
        "SELECT pe.id, pe.full_name, COALESCE(u.name, ''), pe.position,"
        " (SELECT COUNT(*) FROM participants p JOIN enrolments e ON e.participant_id = p.id WHERE p.person_id = pe.id),"
        " pe.erased_at FROM people pe LEFT JOIN units u ON u.id = pe.unit_id"
        " WHERE pe.body_id = ? AND pe.merged_into IS NULL AND pe.name_key LIKE ? ESCAPE '\\'"
        " ORDER BY u.name_key, pe.name_key, pe.id LIMIT ? OFFSET ?",
        (body_id, _name_like(query), limit, offset)).fetchall()
    return [PersonRow(r[0], r[1], r[2], r[3], r[4], r[5] is not None) for r in rows]


def count_people(conn: sqlite3.Connection, body_id: int, query: str = "") -> int:
    """As many as search_people finds without a limit."""
    return conn.execute(
        "SELECT COUNT(*) FROM people pe WHERE pe.body_id = ? AND pe.merged_into IS NULL"
        " AND pe.name_key LIKE ? ESCAPE '\\'", (body_id, _name_like(query))).fetchone()[0]


def find_by_keys(conn: sqlite3.Connection, body_id: int) -> tuple[dict, dict, dict]:
    """The body's standing people by member code, by phone and by (name, unit id): for previewing an import
    (one read of indexed columns, then a dictionary look-up per row)."""
    by_code: dict[str, int] = {}
    by_phone: dict[str, list[tuple[int, str]]] = {}
    by_name: dict[tuple[str, int | None], int] = {}
    for pid, code, phone, name, unit_id in conn.execute(
            "SELECT id, code_key, phone_key, name_key, unit_id FROM people WHERE body_id = ? AND merged_into IS NULL"
            " AND erased_at IS NULL ORDER BY id", (body_id,)):
        if code:
            by_code.setdefault(code, pid)
        if phone:
            by_phone.setdefault(phone, []).append((pid, name))
        if name:
            by_name.setdefault((name, unit_id), pid)
    return by_code, by_phone, by_name


@dataclass(frozen=True, slots=True)
class LinkPreview:
    """What enrolling a roster's rows would link to, by the rules of link_participant (people already on record
    only: rows of the same file are not matched with each other here)."""

    member_code: int = 0
    phone: int = 0
    to_confirm: int = 0
    new: int = 0


def preview_links(conn: sqlite3.Connection, course_id: int, rows) -> LinkPreview:
    """Count how a roster's rows (full_name, unit, phone, member_code) would link to the body's people: one read
    of the body's keys, then a dictionary look-up per row (2,000 rows against 2,000 people: milliseconds)."""
    course = conn.execute("SELECT body_id FROM courses WHERE id = ?", (course_id,)).fetchone()
    if course is None or course[0] is None:
        return LinkPreview(new=len(rows))
    by_code, by_phone, by_name = find_by_keys(conn, course[0])
    units = {r[0]: r[1] for r in conn.execute("SELECT name_key, id FROM units")}
    counts = {"member_code": 0, "phone": 0, "to_confirm": 0, "new": 0}
    for row in rows:
        name, code, phone = name_key(row.full_name), row.member_code.strip().lower(), phone_key(row.phone.strip())
        if code and code in by_code:
            counts["member_code"] += 1
        elif phone and any(n == name for _pid, n in by_phone.get(phone, ())):
            counts["phone"] += 1
        elif (phone and by_phone.get(phone)) or (name, units.get(unit_key(row.unit))) in by_name:
            counts["to_confirm"] += 1
        else:
            counts["new"] += 1
    return LinkPreview(**counts)
