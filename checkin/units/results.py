"""What each unit is told afterwards ("thông báo kết quả"): its cadres, each session's status, late arrivals and
certificates; read once from the store (`read_results`), drawn as a PDF in a worker (`results_pdf`: a section per
unit), and given to the attendance workbook as rows (`result_rows`)."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import datetime

from ..course import attendance
from ..i18n import gettext as _
from ..models import Course, CourseSession
from ..store import certificates, courses, people, scans, units
from .pdf_table import draw_sections


@dataclass(frozen=True, slots=True)
class CadreResult:
    full_name: str
    position: str
    statuses: tuple[str, ...]  # per session, in the course's order: present | late | excused | absent | pending
    late: int
    certificate: str  # the certificate's code, "" when none


@dataclass(frozen=True, slots=True)
class UnitResult:
    unit: str
    quota: int
    cadres: tuple[CadreResult, ...]

    @property
    def attended(self) -> int:
        return sum(1 for c in self.cadres if any(s in ("present", "late") for s in c.statuses))


@dataclass(frozen=True, slots=True)
class Results:
    course: Course
    sessions: tuple[CourseSession, ...]
    units: tuple[UnitResult, ...]


def read_results(conn: sqlite3.Connection, course_id: int, now: datetime, summoned_id: int | None = None) -> Results:
    """Every invited unit's result (or one unit's), as it stands at `now`."""
    course = courses.get_course(conn, course_id)
    sessions = courses.list_sessions(conn, course_id)
    summoned = [u for u in units.list_summoned_units(conn, course_id) if summoned_id is None or u.id == summoned_id]
    nominees = [n for n in units.list_course_nominees(conn, course_id) if n.state == "enrolled"]
    roster = {p.enrolment_id: p for p in people.list_roster_entries(conn, course_id, [n.enrolment_id for n in nominees])}
    if summoned_id is None:
        rows = scans.list_attendance(conn, course_id)
    else:
        rows = units.list_unit_attendance(conn, summoned_id)
    by_pair = {(r.enrolment_id, r.session_id): r for r in rows}
    issued = {c.enrolment_id: c.code for c in certificates.list_certificates(conn, course_id) if c.revoked_at is None}
    result = []
    for unit in summoned:
        cadres = []
        for n in nominees:
            if n.summoned_unit_id != unit.id or n.enrolment_id not in roster:
                continue
            person = roster[n.enrolment_id]
            statuses = tuple(attendance.status_of(s, by_pair.get((n.enrolment_id, s.id)), now) for s in sessions)
            cadres.append(CadreResult(person.full_name, person.position, statuses, statuses.count("late"),
                                      issued.get(n.enrolment_id, "")))
        result.append(UnitResult(unit.name, unit.quota, tuple(cadres)))
    return Results(course, tuple(sessions), tuple(result))


def status_label(status: str) -> str:
    return {"present": _("present"), "late": _("late"), "excused": _("excused"), "absent": _("absent"),
            "pending": _("not yet")}[status]


def result_rows(results: Results) -> list[list[str]]:
    """The workbook's sheet: a header, then one row per cadre (unit, name, position, each session, late, certificate)."""
    header = [_("Unit"), _("Full name"), _("Position"), *(s.title for s in results.sessions), _("Late"),
              _("Certificate")]
    out = [header]
    for unit in results.units:
        for c in unit.cadres:
            out.append([unit.unit, c.full_name, c.position, *(status_label(s) for s in c.statuses), str(c.late),
                        c.certificate and _("yes")])
    return out


def results_pdf(results: Results) -> bytes:
    """One section per unit (each on its own page): a title, a line of totals and a table of its cadres."""
    course = results.course
    sections = []
    for unit in results.units:
        rows = [[c.full_name, c.position, *(status_label(s) for s in c.statuses), str(c.late),
                 _("yes") if c.certificate else ""] for c in unit.cadres]
        summary = _("%(attended)s of %(sent)s cadres attended (quota %(quota)s).") % {
            "attended": unit.attended, "sent": len(unit.cadres), "quota": unit.quota}
        sections.append((unit.unit, summary, rows))
    header = [_("Full name"), _("Position"), *(s.title for s in results.sessions), _("Late"), _("Certificate")]
    title = _("Result notice – %(course)s") % {"course": course.title}
    subtitle = f"{course.organiser_name} · {course.course_date:%d/%m/%Y}" + (f" · {course.venue}" if course.venue else "")
    return draw_sections(title, subtitle, header, sections)
