"""Member units on a course: the summons, the units' links, nominees, substitutions and mail (migration 0017;
the directory itself: unit_directory.py). Plain SQL; the rules live in checkin/units/."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from ..clock import from_db, to_db
from ..text import clean
from .dialect import for_update


# --- the summons ------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Summons:
    course_id: int
    deadline: datetime | None
    group_checkin: bool
    results_published_at: datetime | None


def get_summons(conn: sqlite3.Connection, course_id: int) -> Summons:
    """The course's summons settings (defaults when the organiser has set none)."""
    row = conn.execute("SELECT deadline, group_checkin, results_published_at FROM summonses WHERE course_id = ?",
                       (course_id,)).fetchone()
    if row is None:
        return Summons(course_id, None, False, None)
    return Summons(course_id, from_db(row[0]), bool(row[1]), from_db(row[2]))


def upsert_summons(conn: sqlite3.Connection, course_id: int, deadline: datetime | None, group_checkin: bool,
                   now: datetime) -> None:
    conn.execute(
        "INSERT INTO summonses (course_id, deadline, group_checkin, updated_at) VALUES (?, ?, ?, ?)"
        " ON CONFLICT (course_id) DO UPDATE SET deadline = excluded.deadline, group_checkin = excluded.group_checkin,"
        " updated_at = excluded.updated_at",
        (course_id, to_db(deadline) if deadline else None, int(group_checkin), to_db(now)),
    )


def set_results_published(conn: sqlite3.Connection, course_id: int, published: bool, now: datetime) -> None:
    conn.execute("INSERT INTO summonses (course_id, updated_at) VALUES (?, ?) ON CONFLICT (course_id) DO NOTHING",
                 (course_id, to_db(now)))
    conn.execute("UPDATE summonses SET results_published_at = ?, updated_at = ? WHERE course_id = ?",
                 (to_db(now) if published else None, to_db(now), course_id))


@dataclass(frozen=True, slots=True)
class SummonedUnit:
    id: int
    course_id: int
    member_unit_id: int
    name: str
    short_name: str
    contact_name: str
    contact_phone: str
    contact_email: str
    quota: int
    positions: str
    withdrawn: bool
    first_opened_at: datetime | None
    last_opened_at: datetime | None
    confirmed_at: datetime | None
    last_change_at: datetime | None
    leader_nominee_id: int | None


_SUMMONED = (
    "SELECT s.id, s.course_id, s.member_unit_id, m.name, m.short_name, m.contact_name, m.contact_phone,"
    " m.contact_email, s.quota, s.positions, s.withdrawn_at, s.first_opened_at, s.last_opened_at, s.confirmed_at,"
    " s.last_change_at, s.leader_nominee_id FROM summoned_units s JOIN member_units m ON m.id = s.member_unit_id"
)


def _summoned(r) -> SummonedUnit:
    return SummonedUnit(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10] is not None, from_db(r[11]),
                        from_db(r[12]), from_db(r[13]), from_db(r[14]), r[15])


def list_summoned_units(conn: sqlite3.Connection, course_id: int, *, with_withdrawn: bool = False) -> list[SummonedUnit]:
    where = "" if with_withdrawn else " AND s.withdrawn_at IS NULL"
    return [_summoned(r) for r in conn.execute(
        _SUMMONED + f" WHERE s.course_id = ?{where} ORDER BY m.name_key, s.id", (course_id,))]


def get_summoned_unit(conn: sqlite3.Connection, course_id: int, summoned_id: int, *, lock: bool = False
                      ) -> SummonedUnit | None:
    """lock: the unit's row stays locked to the commit (a quota decision reads its nominees, then writes)."""
    row = conn.execute(_SUMMONED + " WHERE s.course_id = ? AND s.id = ?" + (for_update(conn, "s") if lock else ""),
                       (course_id, summoned_id)).fetchone()
    return _summoned(row) if row else None


def summon_unit(conn: sqlite3.Connection, course_id: int, member_unit_id: int, quota: int, positions: str,
                now: datetime) -> int:
    """Invite the unit (again), with this quota; returns the summoned unit's id."""
    conn.execute(
        "INSERT INTO summoned_units (course_id, member_unit_id, quota, positions, invited_at) VALUES (?, ?, ?, ?, ?)"
        " ON CONFLICT (course_id, member_unit_id) DO UPDATE SET quota = excluded.quota,"
        " positions = excluded.positions, withdrawn_at = NULL",
        (course_id, member_unit_id, quota, clean(positions), to_db(now)),
    )
    return conn.execute("SELECT id FROM summoned_units WHERE course_id = ? AND member_unit_id = ?",
                        (course_id, member_unit_id)).fetchone()[0]


def withdraw_unit(conn: sqlite3.Connection, summoned_id: int, now: datetime) -> None:
    conn.execute("UPDATE summoned_units SET withdrawn_at = ? WHERE id = ? AND withdrawn_at IS NULL",
                 (to_db(now), summoned_id))


def touch_opened(conn: sqlite3.Connection, summoned_id: int, now: datetime) -> None:
    conn.execute("UPDATE summoned_units SET first_opened_at = COALESCE(first_opened_at, ?), last_opened_at = ?"
                 " WHERE id = ?", (to_db(now), to_db(now), summoned_id))


def mark_changed(conn: sqlite3.Connection, summoned_id: int, now: datetime, *, confirmed: bool | None = None) -> None:
    """A change to the unit's list: its time; confirmed True/False sets or clears the confirmation."""
    if confirmed is None:
        conn.execute("UPDATE summoned_units SET last_change_at = ? WHERE id = ?", (to_db(now), summoned_id))
    else:
        conn.execute("UPDATE summoned_units SET last_change_at = ?, confirmed_at = ? WHERE id = ?",
                     (to_db(now), to_db(now) if confirmed else None, summoned_id))


def set_leader(conn: sqlite3.Connection, summoned_id: int, nominee_id: int | None) -> None:
    conn.execute("UPDATE summoned_units SET leader_nominee_id = ? WHERE id = ?", (nominee_id, summoned_id))


# --- links ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class UnitLink:
    id: int
    summoned_unit_id: int
    course_id: int
    salt: str
    created_at: datetime
    revoked_at: datetime | None


_LINK = ("SELECT l.id, l.summoned_unit_id, s.course_id, l.salt, l.created_at, l.revoked_at"
         " FROM unit_links l JOIN summoned_units s ON s.id = l.summoned_unit_id")


def _link(r) -> UnitLink:
    return UnitLink(r[0], r[1], r[2], r[3], from_db(r[4]), from_db(r[5]))


def get_link_by_hash(conn: sqlite3.Connection, secret_hash: str) -> UnitLink | None:
    row = conn.execute(_LINK + " WHERE l.secret_hash = ?", (secret_hash,)).fetchone()
    return _link(row) if row else None


def get_live_link(conn: sqlite3.Connection, summoned_id: int) -> UnitLink | None:
    row = conn.execute(_LINK + " WHERE l.summoned_unit_id = ? AND l.revoked_at IS NULL ORDER BY l.id DESC LIMIT 1",
                       (summoned_id,)).fetchone()
    return _link(row) if row else None


def list_live_links(conn: sqlite3.Connection, course_id: int) -> dict[int, UnitLink]:
    rows = conn.execute(_LINK + " WHERE s.course_id = ? AND l.revoked_at IS NULL ORDER BY l.id", (course_id,))
    return {link.summoned_unit_id: link for link in map(_link, rows)}


def insert_link(conn: sqlite3.Connection, summoned_id: int, salt: str, secret_hash: str, now: datetime) -> int:
    return conn.execute("INSERT INTO unit_links (summoned_unit_id, salt, secret_hash, created_at) VALUES (?, ?, ?, ?)"
                        " RETURNING id", (summoned_id, salt, secret_hash, to_db(now))).fetchone()[0]


def revoke_links(conn: sqlite3.Connection, summoned_id: int, now: datetime) -> int:
    return conn.execute("UPDATE unit_links SET revoked_at = ? WHERE summoned_unit_id = ? AND revoked_at IS NULL",
                        (to_db(now), summoned_id)).rowcount


# --- nominees ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Nominee:
    id: int
    summoned_unit_id: int
    full_name: str
    position: str
    phone: str
    email: str
    member_code: str
    state: str  # draft | enrolled | replaced
    enrolment_id: int | None
    updated_at: datetime


_NOMINEE = ("SELECT n.id, n.summoned_unit_id, n.full_name, n.position, n.phone, n.email, n.member_code, n.state,"
            " n.enrolment_id, n.updated_at FROM nominees n")


def _nominee(r) -> Nominee:
    return Nominee(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], from_db(r[9]))


def list_nominees(conn: sqlite3.Connection, summoned_id: int) -> list[Nominee]:
    return [_nominee(r) for r in conn.execute(_NOMINEE + " WHERE n.summoned_unit_id = ? ORDER BY n.id", (summoned_id,))]


def list_course_nominees(conn: sqlite3.Connection, course_id: int) -> list[Nominee]:
    """Every nominee of every unit of the course (withdrawn units included), in id order."""
    return [_nominee(r) for r in conn.execute(
        _NOMINEE + " JOIN summoned_units s ON s.id = n.summoned_unit_id WHERE s.course_id = ? ORDER BY n.id",
        (course_id,))]


def get_nominee(conn: sqlite3.Connection, summoned_id: int, nominee_id: int) -> Nominee | None:
    row = conn.execute(_NOMINEE + " WHERE n.summoned_unit_id = ? AND n.id = ?", (summoned_id, nominee_id)).fetchone()
    return _nominee(row) if row else None


def insert_nominee(conn: sqlite3.Connection, summoned_id: int, p, now: datetime, *, state: str = "draft",
                   enrolment_id: int | None = None) -> int:
    """p: a people.PersonDetails (its unit is ignored: the nominee's unit is the summoned unit's)."""
    return conn.execute(
        "INSERT INTO nominees (summoned_unit_id, full_name, position, phone, email, member_code, state, enrolment_id,"
        " created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
        (summoned_id, clean(p.full_name), clean(p.position), clean(p.phone), clean(p.email), clean(p.member_code),
         state, enrolment_id, to_db(now), to_db(now)),
    ).fetchone()[0]


def update_nominee(conn: sqlite3.Connection, nominee_id: int, p, now: datetime) -> None:
    conn.execute(
        "UPDATE nominees SET full_name = ?, position = ?, phone = ?, email = ?, member_code = ?, updated_at = ?"
        " WHERE id = ?",
        (clean(p.full_name), clean(p.position), clean(p.phone), clean(p.email), clean(p.member_code), to_db(now),
         nominee_id),
    )


def set_nominee_state(conn: sqlite3.Connection, nominee_id: int, state: str, enrolment_id: int | None,
                      now: datetime) -> None:
    conn.execute("UPDATE nominees SET state = ?, enrolment_id = ?, updated_at = ? WHERE id = ?",
                 (state, enrolment_id, to_db(now), nominee_id))


def delete_draft(conn: sqlite3.Connection, nominee_id: int) -> bool:
    return conn.execute("DELETE FROM nominees WHERE id = ? AND state = 'draft'", (nominee_id,)).rowcount > 0


# --- substitutions ----------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Substitution:
    id: int
    summoned_unit_id: int
    old_nominee_id: int
    old_name: str
    new_nominee_id: int | None
    full_name: str
    position: str
    phone: str
    email: str
    member_code: str
    reason: str
    state: str  # proposed | approved | refused
    proposed_at: datetime
    decided_at: datetime | None
    organiser: str  # who decided ("" : the unit itself, or nobody yet)
    note: str
    unit_name: str


_SUBSTITUTION = (
    "SELECT x.id, x.summoned_unit_id, x.old_nominee_id, o.full_name, x.new_nominee_id, x.full_name, x.position,"
    " x.phone, x.email, x.member_code, x.reason, x.state, x.proposed_at, x.decided_at,"
    " COALESCE(g.display_name, ''), x.note, m.name"
    " FROM unit_substitutions x JOIN nominees o ON o.id = x.old_nominee_id"
    " JOIN summoned_units s ON s.id = x.summoned_unit_id JOIN member_units m ON m.id = s.member_unit_id"
    " LEFT JOIN organisers g ON g.id = x.organiser_id"
)


def _substitution(r) -> Substitution:
    return Substitution(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10], r[11], from_db(r[12]),
                        from_db(r[13]), r[14], r[15], r[16])


def list_substitutions(conn: sqlite3.Connection, course_id: int, summoned_id: int | None = None) -> list[Substitution]:
    if summoned_id is None:
        rows = conn.execute(_SUBSTITUTION + " WHERE s.course_id = ? ORDER BY x.id DESC", (course_id,))
    else:
        rows = conn.execute(_SUBSTITUTION + " WHERE s.course_id = ? AND x.summoned_unit_id = ? ORDER BY x.id DESC",
                            (course_id, summoned_id))
    return [_substitution(r) for r in rows]


def get_substitution(conn: sqlite3.Connection, course_id: int, substitution_id: int, *, lock: bool = False
                     ) -> Substitution | None:
    row = conn.execute(_SUBSTITUTION + " WHERE s.course_id = ? AND x.id = ?" + (for_update(conn, "x") if lock else ""),
                       (course_id, substitution_id)).fetchone()
    return _substitution(row) if row else None


def insert_substitution(conn: sqlite3.Connection, summoned_id: int, old_nominee_id: int, p, reason: str,
                        now: datetime) -> int:
    return conn.execute(
        "INSERT INTO unit_substitutions (summoned_unit_id, old_nominee_id, full_name, position, phone, email,"
        " member_code, reason, state, proposed_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'proposed', ?) RETURNING id",
        (summoned_id, old_nominee_id, clean(p.full_name), clean(p.position), clean(p.phone), clean(p.email),
         clean(p.member_code), clean(reason), to_db(now)),
    ).fetchone()[0]


def decide_substitution(conn: sqlite3.Connection, substitution_id: int, state: str, new_nominee_id: int | None,
                        organiser_id: int | None, note: str, now: datetime) -> None:
    conn.execute(
        "UPDATE unit_substitutions SET state = ?, new_nominee_id = ?, organiser_id = ?, note = ?, decided_at = ?"
        " WHERE id = ?", (state, new_nominee_id, organiser_id, clean(note), to_db(now), substitution_id))


def has_open_substitution(conn: sqlite3.Connection, old_nominee_id: int) -> bool:
    return conn.execute("SELECT 1 FROM unit_substitutions WHERE old_nominee_id = ? AND state = 'proposed'",
                        (old_nominee_id,)).fetchone() is not None


# --- mail -------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class UnitMailing:
    summoned_unit_id: int
    kind: str
    address: str
    status: str
    reason: str
    at: datetime


def insert_mailing(conn: sqlite3.Connection, summoned_id: int, kind: str, address: str, status: str, reason: str,
                   organiser_id: int | None, now: datetime) -> None:
    conn.execute(
        "INSERT INTO unit_mailings (summoned_unit_id, kind, address, status, reason, organiser_id, at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)", (summoned_id, kind, address, status, reason[:300], organiser_id, to_db(now)))


def last_mailings(conn: sqlite3.Connection, course_id: int) -> dict[int, UnitMailing]:
    """Each unit's newest sending (by e-mail or for Zalo)."""
    rows = conn.execute(
        "SELECT x.summoned_unit_id, x.kind, x.address, x.status, x.reason, x.at FROM unit_mailings x"
        " JOIN summoned_units s ON s.id = x.summoned_unit_id WHERE s.course_id = ? ORDER BY x.id", (course_id,))
    return {r[0]: UnitMailing(r[0], r[1], r[2], r[3], r[4], from_db(r[5])) for r in rows}


def list_mailings(conn: sqlite3.Connection, summoned_id: int) -> list[UnitMailing]:
    rows = conn.execute("SELECT summoned_unit_id, kind, address, status, reason, at FROM unit_mailings"
                        " WHERE summoned_unit_id = ? ORDER BY id DESC", (summoned_id,))
    return [UnitMailing(r[0], r[1], r[2], r[3], r[4], from_db(r[5])) for r in rows]


# --- attendance of a unit's people --------------------------------------------------------------------------------


def enrolled_ids(nominees: Sequence[Nominee]) -> list[int]:
    return [n.enrolment_id for n in nominees if n.enrolment_id is not None and n.state == "enrolled"]


def insert_group_checkin(conn: sqlite3.Connection, scan_id: int, leader_enrolment_id: int) -> None:
    conn.execute("INSERT INTO group_checkins (scan_id, leader_enrolment_id) VALUES (?, ?)", (scan_id, leader_enrolment_id))


def list_unit_attendance(conn: sqlite3.Connection, summoned_id: int):
    """The attendance rows of the unit's people (a few dozen rows: the unit's live page reads nothing else)."""
    from .scans import AttendanceRow

    rows = conn.execute(
        "SELECT a.enrolment_id, a.session_id, a.status, a.scan_id, a.checked_in_at, a.note FROM attendance a"
        " JOIN nominees n ON n.enrolment_id = a.enrolment_id WHERE n.summoned_unit_id = ? AND n.state = 'enrolled'",
        (summoned_id,))
    return [AttendanceRow(r[0], r[1], r[2], r[3], from_db(r[4]), r[5]) for r in rows]
