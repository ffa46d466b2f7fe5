"""Programmes of an organising body: their courses and requirements (plain SQL; the rules are in
records/programmes.py)."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache

from ..clock import to_db
from ..text import fold


@lru_cache(maxsize=4096)  # a report folds the same few spellings tens of thousands of times
def position_key(position: str) -> str:
    """A position as requirements match it: case, diacritics and spaces ignored ("Phó Bí Thư" = "phobithu")."""
    return fold(position).replace(" ", "")


@dataclass(frozen=True, slots=True)
class Requirement:
    id: int
    label: str
    positions: tuple[str, ...]
    position_keys: frozenset[str]  # empty: every cadre
    minimum: int
    course_ids: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class Programme:
    id: int
    body_id: int
    title: str
    course_ids: tuple[int, ...]
    requirements: tuple[Requirement, ...]


@dataclass(frozen=True, slots=True)
class CourseOption:
    id: int
    title: str
    course_date: date


def list_body_courses(conn: sqlite3.Connection, body_id: int) -> list[CourseOption]:
    rows = conn.execute("SELECT id, title, course_date FROM courses WHERE body_id = ? ORDER BY course_date, id",
                        (body_id,))
    return [CourseOption(r[0], r[1], date.fromisoformat(r[2])) for r in rows]


def list_courses_between(conn: sqlite3.Connection, body_id: int, start: date, end: date) -> list[int]:
    rows = conn.execute("SELECT id FROM courses WHERE body_id = ? AND course_date >= ? AND course_date <= ?"
                        " ORDER BY course_date, id", (body_id, start.isoformat(), end.isoformat()))
    return [r[0] for r in rows]


def insert_programme(conn: sqlite3.Connection, body_id: int, title: str, now: datetime) -> int | None:
    """A new programme; None if the body has one of this title already."""
    row = conn.execute("INSERT INTO programmes (body_id, title, created_at) VALUES (?, ?, ?)"
                       " ON CONFLICT (body_id, title) DO NOTHING RETURNING id", (body_id, title, to_db(now))).fetchone()
    return row[0] if row else None


def set_programme_courses(conn: sqlite3.Connection, programme_id: int, course_ids: list[int]) -> None:
    conn.execute("DELETE FROM programme_courses WHERE programme_id = ?", (programme_id,))
    for course_id in sorted(set(course_ids)):
        conn.execute("INSERT INTO programme_courses (programme_id, course_id) VALUES (?, ?)", (programme_id, course_id))


def insert_requirement(conn: sqlite3.Connection, programme_id: int, label: str, positions: list[str], minimum: int,
                       course_ids: list[int], now: datetime) -> int:
    requirement_id = conn.execute(
        "INSERT INTO programme_requirements (programme_id, label, positions, position_keys, minimum, created_at)"
        " VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
        (programme_id, label, "\n".join(positions), "\n".join(position_key(p) for p in positions), minimum,
         to_db(now))).fetchone()[0]
    for course_id in sorted(set(course_ids)):
        conn.execute("INSERT INTO requirement_courses (requirement_id, course_id) VALUES (?, ?)",
                     (requirement_id, course_id))
    return requirement_id


def delete_requirement(conn: sqlite3.Connection, programme_id: int, requirement_id: int) -> bool:
    found = conn.execute("SELECT 1 FROM programme_requirements WHERE id = ? AND programme_id = ?",
                         (requirement_id, programme_id)).fetchone()
    if not found:
        return False
    conn.execute("DELETE FROM requirement_courses WHERE requirement_id = ?", (requirement_id,))
    conn.execute("DELETE FROM programme_requirements WHERE id = ?", (requirement_id,))
    return True


def get_programme(conn: sqlite3.Connection, programme_id: int) -> Programme | None:
    row = conn.execute("SELECT id, body_id, title FROM programmes WHERE id = ?", (programme_id,)).fetchone()
    if row is None:
        return None
    course_ids = tuple(r[0] for r in conn.execute(
        "SELECT pc.course_id FROM programme_courses pc JOIN courses c ON c.id = pc.course_id"
        " WHERE pc.programme_id = ? ORDER BY c.course_date, c.id", (programme_id,)))
    requirements = []
    for r in conn.execute("SELECT id, label, positions, position_keys, minimum FROM programme_requirements"
                          " WHERE programme_id = ? ORDER BY id", (programme_id,)).fetchall():
        courses_of = tuple(x[0] for x in conn.execute(
            "SELECT course_id FROM requirement_courses WHERE requirement_id = ? ORDER BY course_id", (r[0],)))
        requirements.append(Requirement(r[0], r[1], tuple(p for p in r[2].split("\n") if p),
                                        frozenset(k for k in r[3].split("\n") if k), r[4], courses_of))
    return Programme(row[0], row[1], row[2], course_ids, tuple(requirements))


def list_programmes(conn: sqlite3.Connection, body_id: int) -> list[tuple[int, str, int]]:
    """(id, title, number of courses) of the body's programmes."""
    rows = conn.execute(
        "SELECT p.id, p.title, (SELECT COUNT(*) FROM programme_courses pc WHERE pc.programme_id = p.id)"
        " FROM programmes p WHERE p.body_id = ? ORDER BY p.title", (body_id,))
    return [(r[0], r[1], r[2]) for r in rows]
