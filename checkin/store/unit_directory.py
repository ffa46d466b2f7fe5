"""The unit directory of an organising body, and the roster spellings an organiser tied to its entries
(migration 0017). Plain SQL; matching proposals are made in checkin/units/directory.py."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import datetime

from ..clock import to_db
from ..text import clean, unit_key


# --- the directory ----------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MemberUnitDetails:
    name: str
    short_name: str = ""
    contact_name: str = ""
    contact_phone: str = ""
    contact_email: str = ""
    active: bool = True


@dataclass(frozen=True, slots=True)
class MemberUnit:
    id: int
    body_id: int
    name: str
    short_name: str
    contact_name: str
    contact_phone: str
    contact_email: str
    active: bool

    @property
    def details(self) -> MemberUnitDetails:
        return MemberUnitDetails(self.name, self.short_name, self.contact_name, self.contact_phone,
                                 self.contact_email, self.active)


_UNIT = "SELECT id, body_id, name, short_name, contact_name, contact_phone, contact_email, active FROM member_units"


def _member(r) -> MemberUnit:
    return MemberUnit(r[0], r[1], r[2], r[3], r[4], r[5], r[6], bool(r[7]))


def list_member_units(conn: sqlite3.Connection, body_id: int) -> list[MemberUnit]:
    return [_member(r) for r in conn.execute(_UNIT + " WHERE body_id = ? ORDER BY name_key, id", (body_id,))]


def get_member_unit(conn: sqlite3.Connection, body_id: int, member_unit_id: int) -> MemberUnit | None:
    row = conn.execute(_UNIT + " WHERE body_id = ? AND id = ?", (body_id, member_unit_id)).fetchone()
    return _member(row) if row else None


def get_member_unit_by_name(conn: sqlite3.Connection, body_id: int, name: str) -> MemberUnit | None:
    row = conn.execute(_UNIT + " WHERE body_id = ? AND name_key = ?", (body_id, unit_key(name))).fetchone()
    return _member(row) if row else None


def insert_member_unit(conn: sqlite3.Connection, body_id: int, d: MemberUnitDetails, now: datetime) -> int:
    return conn.execute(
        "INSERT INTO member_units (body_id, name, name_key, short_name, contact_name, contact_phone, contact_email,"
        " active, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
        (body_id, clean(d.name), unit_key(d.name), clean(d.short_name), clean(d.contact_name), clean(d.contact_phone),
         clean(d.contact_email), int(d.active), to_db(now), to_db(now)),
    ).fetchone()[0]


def update_member_unit(conn: sqlite3.Connection, member_unit_id: int, d: MemberUnitDetails, now: datetime) -> None:
    conn.execute(
        "UPDATE member_units SET name = ?, name_key = ?, short_name = ?, contact_name = ?, contact_phone = ?,"
        " contact_email = ?, active = ?, updated_at = ? WHERE id = ?",
        (clean(d.name), unit_key(d.name), clean(d.short_name), clean(d.contact_name), clean(d.contact_phone),
         clean(d.contact_email), int(d.active), to_db(now), member_unit_id),
    )


# --- spellings (the units rosters name) -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Spelling:
    unit_id: int
    name: str
    people: int  # participants of the body's courses with this spelling
    decided: bool
    member_unit_id: int | None


def list_spellings(conn: sqlite3.Connection, body_id: int) -> list[Spelling]:
    """The unit spellings that the body's courses' rosters use, with how the organiser tied each (if they did)."""
    rows = conn.execute(
        "SELECT u.id, u.name, COUNT(DISTINCT p.id), s.unit_id, s.member_unit_id"
        " FROM units u JOIN participants p ON p.unit_id = u.id JOIN enrolments e ON e.participant_id = p.id"
        " JOIN courses c ON c.id = e.course_id"
        " LEFT JOIN unit_spellings s ON s.unit_id = u.id AND s.body_id = c.body_id"
        " WHERE c.body_id = ? GROUP BY u.id, u.name, s.unit_id, s.member_unit_id ORDER BY u.name_key",
        (body_id,),
    )
    return [Spelling(r[0], r[1], r[2], r[3] is not None, r[4]) for r in rows]


def decide_spelling(conn: sqlite3.Connection, body_id: int, unit_id: int, member_unit_id: int | None,
                    organiser_id: int, now: datetime) -> None:
    conn.execute(
        "INSERT INTO unit_spellings (body_id, unit_id, member_unit_id, organiser_id, decided_at) VALUES (?, ?, ?, ?, ?)"
        " ON CONFLICT (body_id, unit_id) DO UPDATE SET member_unit_id = excluded.member_unit_id,"
        " organiser_id = excluded.organiser_id, decided_at = excluded.decided_at",
        (body_id, unit_id, member_unit_id, organiser_id, to_db(now)),
    )


def undo_spelling(conn: sqlite3.Connection, body_id: int, unit_id: int) -> bool:
    return conn.execute("DELETE FROM unit_spellings WHERE body_id = ? AND unit_id = ?", (body_id, unit_id)).rowcount > 0
