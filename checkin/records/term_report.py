"""The term report: for a programme or a date range, units x courses (nominated, attended, certified), per
unit the cadres who do not yet meet a requirement, totals per position. Read once, then counted here.

Counting: a nomination is an enrolment; attended: checked in (on time or late) to at least one session;
certified: a valid certificate. A cadre's unit and position for the requirements are those of their latest
course in scope. A requirement is met with valid certificates of at least its minimum of its courses."""

from __future__ import annotations

import sqlite3
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date

from ..errors import Problem
from ..store import programmes, term_report
from ..store.programmes import Requirement, position_key
from ..store.term_report import ReportCourse

MEASURES = ("nominated", "attended", "certified")


@dataclass(frozen=True, slots=True)
class Scope:
    """What the report covers: a programme, or the body's courses between two dates; and its filters."""

    body_id: int
    programme_id: int | None = None
    start: date | None = None
    end: date | None = None
    unit_id: int | None = None
    position: str = ""  # as typed; matched by position_key

    def query(self) -> dict[str, str]:
        q = {"programme": str(self.programme_id)} if self.programme_id else {
            "from": self.start.isoformat() if self.start else "", "to": self.end.isoformat() if self.end else ""}
        if self.unit_id:
            q["unit"] = str(self.unit_id)
        if self.position:
            q["position"] = self.position
        return q


@dataclass(slots=True)
class Cell:
    nominated: int = 0
    attended: int = 0
    certified: int = 0

    def add(self, n: int, attended: bool, certified: bool) -> None:
        """Count `n` nominations alike."""
        self.nominated += n
        self.attended += n * attended
        self.certified += n * certified

    def pct(self, measure: str) -> int | None:
        """Whole per cent of the nominations; None without any."""
        return round(100 * getattr(self, measure) / self.nominated) if self.nominated else None


@dataclass(frozen=True, slots=True)
class Gap:
    person_id: int
    full_name: str
    position: str
    missing: tuple[str, ...]  # labels of the requirements not met


@dataclass
class TermReport:
    title: str
    scope: Scope
    courses: list[ReportCourse]
    units: list[tuple[int | None, str]]  # (unit id, name), by name
    cells: dict[tuple[int | None, int], Cell]
    unit_totals: dict[int | None, Cell]
    course_totals: dict[int, Cell]
    total: Cell
    positions: list[tuple[str, Cell]]  # the most frequent spelling of each normalised position
    requirements: tuple[Requirement, ...]
    gaps: dict[int | None, list[Gap]] = field(default_factory=dict)
    all_units: list[tuple[int | None, str]] = field(default_factory=list)  # for the filter, unfiltered

    def table(self) -> list[tuple[int | None, str, list[tuple | None], tuple]]:
        """The units x courses table as plain tuples, for a page of thousands of cells: per unit, per course
        (course id, nominated, attended, certified, % attended, % certified) or None, then the unit's totals."""
        def cell(c: Cell, course_id: int = 0) -> tuple:
            return (course_id, c.nominated, c.attended, c.certified, c.pct("attended"), c.pct("certified"))

        return [(u, name, [cell(self.cells[(u, c.id)], c.id) if (u, c.id) in self.cells else None
                           for c in self.courses], cell(self.unit_totals[u])) for u, name in self.units]

    def ranked_units(self, measure: str = "certified") -> list[tuple[int | None, str, int]]:
        """Units by their share of nominations with `measure`, best first (for the chart)."""
        ranked = [(u, name, self.unit_totals[u].pct(measure) or 0) for u, name in self.units]
        return sorted(ranked, key=lambda x: (-x[2], x[1]))


def resolve_courses(conn: sqlite3.Connection, scope: Scope) -> tuple[str, list[int], tuple[Requirement, ...]]:
    """(title, course ids, requirements) of the scope; refused: an unknown programme, a range with no course."""
    if scope.programme_id is not None:
        found = programmes.get_programme(conn, scope.programme_id)
        if found is None or found.body_id != scope.body_id:
            raise Problem(404, "programme_not_found", "There is no such programme in this organising body.")
        if not found.course_ids:
            raise Problem(422, "programme_without_courses", "This programme has no course yet: add its courses first.")
        return found.title, list(found.course_ids), found.requirements
    if scope.start is None or scope.end is None or scope.start > scope.end:
        raise Problem(422, "bad_range", "Give a programme, or a date range whose start is not after its end.")
    ids = programmes.list_courses_between(conn, scope.body_id, scope.start, scope.end)
    if not ids:
        raise Problem(422, "no_courses_in_range",
                      "No course of this organising body took place in that date range: widen the range.")
    return f"{scope.start:%d/%m/%Y}–{scope.end:%d/%m/%Y}", ids, ()


def read_term_report(conn: sqlite3.Connection, scope: Scope) -> TermReport:
    title, course_ids, requirements = resolve_courses(conn, scope)
    courses = term_report.list_report_courses(conn, course_ids)
    ids = [c.id for c in courses]
    tally = term_report.tally_rows(conn, ids)
    names = term_report.unit_names(conn, [t[0] for t in tally if t[0] is not None])
    roles = term_report.latest_roles(conn, ids) if requirements else {}
    certified = {q.id: term_report.certified_counts(conn, list(q.course_ids)) for q in requirements}
    report = count(title, scope, courses, tally, names, requirements, roles, certified)
    people = {g.person_id for gaps in report.gaps.values() for g in gaps}
    if people:
        named = term_report.person_names(conn, sorted(people))
        report.gaps = {u: [Gap(g.person_id, named.get(g.person_id, ""), g.position, g.missing) for g in gaps]
                       for u, gaps in report.gaps.items()}
        for gaps in report.gaps.values():
            gaps.sort(key=lambda g: (g.full_name, g.person_id))
    return report


def _unit_list(unit_ids, names: dict[int, str]) -> list[tuple[int | None, str]]:
    return sorted(((u, names.get(u, "") if u is not None else "") for u in set(unit_ids)),
                  key=lambda x: (x[0] is None, x[1].casefold(), x[0] or 0))


Tally = tuple  # (unit id, course id, position as spelt, attended, certified, how many)


def count(title: str, scope: Scope, courses: list[ReportCourse], tally: list[Tally], names: dict[int, str],
          requirements: tuple[Requirement, ...], roles: dict[int, tuple[int | None, str]],
          certified: dict[int, dict[int, int]]) -> TermReport:
    """Pure counting from the database's groups (the tests compute the same numbers their own way from the
    workbook). roles: each person's (unit, position) on their latest course; certified: per requirement, per
    person, of how many of its courses they hold a valid certificate."""
    all_units = _unit_list([t[0] for t in tally], names)
    wanted_position = position_key(scope.position) if scope.position else ""
    chosen = [t for t in tally if (scope.unit_id is None or t[0] == scope.unit_id)
              and (not wanted_position or position_key(t[2]) == wanted_position)]
    cells: dict[tuple[int | None, int], Cell] = defaultdict(Cell)
    unit_totals: dict[int | None, Cell] = defaultdict(Cell)
    course_totals: dict[int, Cell] = {c.id: Cell() for c in courses}
    total = Cell()
    by_position: dict[str, Cell] = defaultdict(Cell)
    spellings: dict[str, Counter] = defaultdict(Counter)
    for unit_id, course_id, position, attended, certified_, n in chosen:
        key = position_key(position)
        for cell in (cells[(unit_id, course_id)], unit_totals[unit_id], course_totals[course_id], total,
                     by_position[key]):
            cell.add(n, attended, certified_)
        spellings[key][position] += n
    positions = sorted(((spellings[k].most_common(1)[0][0], c) for k, c in by_position.items()),
                       key=lambda x: (-x[1].nominated, x[0]))
    report = TermReport(title, scope, courses, _unit_list([t[0] for t in chosen], names), dict(cells),
                        dict(unit_totals), course_totals, total, positions, requirements, {}, all_units)
    if requirements:
        report.gaps = _gaps(roles, certified, requirements, scope, wanted_position)
    return report


def _gaps(roles, certified, requirements, scope: Scope, wanted_position: str) -> dict[int | None, list[Gap]]:
    gaps: dict[int | None, list[Gap]] = defaultdict(list)
    for person_id, (unit_id, position) in roles.items():
        if scope.unit_id is not None and unit_id != scope.unit_id:
            continue
        key = position_key(position)
        if wanted_position and key != wanted_position:
            continue
        missing = tuple(q.label for q in requirements if (not q.position_keys or key in q.position_keys)
                        and certified[q.id].get(person_id, 0) < q.minimum)
        if missing:
            gaps[unit_id].append(Gap(person_id, "", position, missing))
    return dict(gaps)


@dataclass(frozen=True, slots=True)
class PersonLine:
    person_id: int
    full_name: str
    course_id: int


def people_behind(conn: sqlite3.Connection, scope: Scope, measure: str, course_id: int | None) -> list[PersonLine]:
    """The people behind one number of the report: a measure, for one course or all, within the filters."""
    _title, course_ids, _r = resolve_courses(conn, scope)
    if course_id is not None:
        course_ids = [c for c in course_ids if c == course_id]
    rows = term_report.list_report_rows(conn, course_ids)
    wanted_position = position_key(scope.position) if scope.position else ""
    chosen = [r for r in rows if r.person_id is not None and (scope.unit_id is None or r.unit_id == scope.unit_id)
              and (not wanted_position or position_key(r.position) == wanted_position)
              and (measure == "nominated" or getattr(r, measure))]
    names = term_report.person_names(conn, [r.person_id for r in chosen])
    return sorted((PersonLine(r.person_id, names.get(r.person_id, ""), r.course_id) for r in chosen),
                  key=lambda p: (p.full_name, p.person_id, p.course_id))
