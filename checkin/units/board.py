"""The organiser's nominations board: per invited unit, how far it got (pure: computed from rows read once)."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import datetime

from ..store import units
from ..store.units import Nominee, Substitution, SummonedUnit, Summons, UnitMailing


@dataclass(frozen=True, slots=True)
class BoardRow:
    unit: SummonedUnit
    nominated: int
    enrolled: int
    pending: int  # substitutions waiting for a decision
    mailing: UnitMailing | None

    @property
    def state(self) -> str:
        """not_opened | opened | nominating | confirmed (the organiser's column, and its filter)."""
        if self.unit.confirmed_at is not None:
            return "confirmed"
        if self.nominated:
            return "nominating"
        return "opened" if self.unit.first_opened_at else "not_opened"


@dataclass(frozen=True, slots=True)
class Board:
    summons: Summons
    rows: list[BoardRow]
    substitutions: list[Substitution]

    @property
    def not_answered(self) -> list[BoardRow]:
        return [r for r in self.rows if r.state in ("not_opened", "opened")]

    @property
    def totals(self) -> dict[str, int]:
        return {"units": len(self.rows), "quota": sum(r.unit.quota for r in self.rows),
                "nominated": sum(r.nominated for r in self.rows),
                "confirmed": sum(1 for r in self.rows if r.state == "confirmed")}


def read_board(conn: sqlite3.Connection, course_id: int) -> Board:
    summoned = units.list_summoned_units(conn, course_id)
    nominees: dict[int, list[Nominee]] = {}
    for n in units.list_course_nominees(conn, course_id):
        nominees.setdefault(n.summoned_unit_id, []).append(n)
    subs = units.list_substitutions(conn, course_id)
    mailings = units.last_mailings(conn, course_id)
    rows = []
    for unit in summoned:
        mine = nominees.get(unit.id, [])
        rows.append(BoardRow(
            unit, sum(1 for n in mine if n.state in ("draft", "enrolled")), sum(1 for n in mine if n.state == "enrolled"),
            sum(1 for s in subs if s.summoned_unit_id == unit.id and s.state == "proposed"), mailings.get(unit.id)))
    return Board(units.get_summons(conn, course_id), rows, subs)


def deadline_passed(summons: Summons, now: datetime) -> bool:
    return summons.deadline is not None and now >= summons.deadline
