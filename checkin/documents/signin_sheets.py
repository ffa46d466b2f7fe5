"""Printable sign-in sheets (PDF): the paper fallback, one block of pages per session and unit, with a
signature column and each person's number, which the organiser types back in afterwards (method "paper").

The number printed is the enrolment id, not the badge code: a badge code is a bearer secret and a sheet
lies open on a table at the door.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from fpdf import FPDF

from ..errors import Problem
from ..i18n import gettext as _
from ..models import Course, CourseSession
from .pdf import FONT_FAMILY, PT_MM, draw_text_lines, fit_text, new_document, text_width_em
from ..door.scanning import ScanInput, ScanOutcome, record_scan_tx
from ..store import people, scans
from ..store.people import RosterEntry
from ..text import whole_number

NUMBER = re.compile(r"[0-9]+")  # ASCII only: \d also matches other scripts' digits

PAGE_W, PAGE_H, MARGIN = 210.0, 297.0, 14.0
ROW_H = 10.0
HEADER_ROW_H = 8.0
# (title, width mm, alignment); the widths add up to the page width less the margins. Titles are translated
# when a sheet is drawn (see _columns).
COLUMNS = (("No.", 11.0, "C"), ("Full name", 58.0, "L"), ("Position", 46.0, "L"), ("Number", 18.0, "C"),
           ("Signature", 49.0, "C"))


def _columns() -> list[tuple[str, float, str]]:
    return [(_(title), width, align) for title, width, align in COLUMNS]


@dataclass(frozen=True, slots=True)
class SheetGroup:
    """The people of one unit, for one session: one or more pages."""

    session: CourseSession
    unit: str
    people: Sequence[RosterEntry]


def person_number(enrolment_id: int) -> str:
    """What the sheet prints in its "Mã số" column and the paper entry page accepts back."""
    return str(enrolment_id)


def parse_numbers(ticked: Iterable[str], typed: str) -> list[int]:
    """The numbers ticked on the page and typed from the sheet, in order, each once."""
    found = [whole_number(str(v)) for v in ticked] + [whole_number(n) for n in NUMBER.findall(typed[:20_000])]
    if any(n is None for n in found):
        raise Problem(422, "bad_numbers", "Type the numbers as the sheet prints them, in plain digits; nothing was entered.",
                      field="numbers")
    return list(dict.fromkeys(n for n in found if n is not None))


def record_paper_sheet_tx(
    conn: sqlite3.Connection, course_id: int, session: CourseSession, numbers: Sequence[int], organiser_id: int,
    now: datetime,
) -> list[ScanOutcome]:
    """Enter the people who signed one session's sheet: a scan each with method "paper", through the one scan
    function, judged at the session's start (the sheet was signed there, so on time). All or nothing."""
    enrolled = {p.enrolment_id for p in people.list_roster(conn, course_id)}
    unknown = [n for n in numbers if n not in enrolled]
    if unknown:
        shown = ", ".join(str(n) for n in unknown[:20])
        raise Problem(422, "unknown_numbers", f"These numbers are not on this course's sheets: {shown}. "
                      "Check them against the sheet; nothing was entered.", field="numbers")
    outcomes = [
        record_scan_tx(conn, ScanInput(
            course_id=course_id, method="paper", enrolment_id=number, session_id=session.id,
            organiser_id=organiser_id, device_time=session.starts_at, note="paper sign-in sheet",
        ), now)
        for number in numbers
    ]
    if numbers:
        scans.insert_audit(conn, course_id, "paper_entry", now, organiser_id=organiser_id, subject=session.title,
                           detail=f"{len(numbers)} ticked")
    return outcomes


def sign_in_groups(sessions: Sequence[CourseSession], roster: Sequence[RosterEntry], *,
                   session_id: int | None = None, unit: str | None = None) -> list[SheetGroup]:
    """Session by session, unit by unit (units by name, people by name as the roster is sorted)."""
    units: dict[str, list[RosterEntry]] = {}
    for person in roster:
        if unit is None or person.unit == unit:
            units.setdefault(person.unit, []).append(person)
    chosen = [s for s in sessions if session_id is None or s.id == session_id]
    return [SheetGroup(s, name, units[name]) for s in chosen for name in sorted(units, key=str.casefold)]


def _fit_line(pdf: FPDF, text: str, width: float, size: float, bold: bool = False, min_size: float = 6.5) -> None:
    """Set a font size at which `text` fits on one line of `width` mm (never larger than `size`)."""
    needed = text_width_em(text, bold) * PT_MM
    if needed > 0:
        size = max(min_size, min(size, width / needed))
    pdf.set_font(FONT_FAMILY, "B" if bold else "", size)


def sign_in_sheets_pdf(course: Course, groups: Sequence[SheetGroup]) -> bytes:
    pdf = new_document(title=_("Sign-in sheet – %(course)s") % {"course": course.title})
    zone = ZoneInfo(course.time_zone)
    width = PAGE_W - 2 * MARGIN
    for group in groups:
        per_page = max(1, int((PAGE_H - 2 * MARGIN - 62 - HEADER_ROW_H - 10) // ROW_H))
        pages = max(1, -(-len(group.people) // per_page))
        for page in range(pages):
            pdf.add_page()
            top = _page_header(pdf, course, group, zone, width)
            y = _table_header(pdf, top)
            chunk = group.people[page * per_page:(page + 1) * per_page]
            for index, person in enumerate(chunk, start=page * per_page + 1):
                _row(pdf, y, index, person)
                y += ROW_H
            _footer(pdf, group, page + 1, pages, width)
    if not groups:
        pdf.add_page()
        pdf.set_font(FONT_FAMILY, "", 12)
        pdf.text(MARGIN, MARGIN + 10, _("Nobody is on the chosen list."))
    return bytes(pdf.output())


def _footer(pdf: FPDF, group: SheetGroup, page: int, pages: int, width: float) -> None:
    pdf.set_text_color(90)
    pdf.set_font(FONT_FAMILY, "", 8)
    count = _("Sheet %(page)s/%(pages)s") % {"page": page, "pages": pages}
    where = f"{group.session.title} · {group.unit}"
    room = width - pdf.get_string_width(count) - 6
    while where and pdf.get_string_width(where) > room:
        where = where[:-2].rstrip() + "…"
    pdf.text(MARGIN, PAGE_H - MARGIN + 1, where)
    pdf.text(PAGE_W - MARGIN - pdf.get_string_width(count), PAGE_H - MARGIN + 1, count)
    pdf.text(MARGIN, PAGE_H - MARGIN + 5, _("After the session, the organisers enter who signed, by their number."))


def _page_header(pdf: FPDF, course: Course, group: SheetGroup, zone: ZoneInfo, width: float) -> float:
    y = MARGIN
    if course.organiser_name:
        y = draw_text_lines(pdf, fit_text(course.organiser_name.upper(), width, max_pt=9, min_pt=7, max_lines=1,
                                          bold=True), MARGIN, y, width, align="L")
    y += 2
    y = draw_text_lines(pdf, fit_text(_("ATTENDANCE SIGN-IN SHEET"), width, max_pt=15, min_pt=12, max_lines=1,
                                      bold=True), MARGIN, y, width)
    y = draw_text_lines(pdf, fit_text(course.title, width, max_pt=11, min_pt=8, max_lines=2), MARGIN, y + 1, width)
    y += 2
    session = group.session
    when = _("%(start)s–%(end)s on %(date)s") % {
        "start": f"{session.starts_at.astimezone(zone):%H:%M}", "end": f"{session.ends_at.astimezone(zone):%H:%M}",
        "date": f"{session.starts_at.astimezone(zone):%d/%m/%Y}"}
    lines = [_("Session: %(title)s") % {"title": session.title}, _("Time: %(when)s") % {"when": when}]
    if course.venue:
        lines.append(_("Venue: %(venue)s") % {"venue": course.venue})
    for text in lines:
        y = draw_text_lines(pdf, fit_text(text, width, max_pt=10.5, min_pt=7.5, max_lines=2), MARGIN, y + 1, width,
                            align="L")
    unit = _("Unit: %(unit)s") % {"unit": group.unit or "—"}
    y = draw_text_lines(pdf, fit_text(unit, width, max_pt=12, min_pt=8, max_lines=2,
                                      bold=True), MARGIN, y + 1.5, width, align="L")
    return max(y + 4, MARGIN + 50)


def _table_header(pdf: FPDF, top: float) -> float:
    x = MARGIN
    pdf.set_draw_color(0)
    pdf.set_line_width(0.3)
    pdf.set_fill_color(230)
    pdf.set_text_color(0)
    pdf.set_font(FONT_FAMILY, "B", 9.5)
    for title, w, _align in _columns():
        pdf.set_xy(x, top)
        pdf.cell(w, HEADER_ROW_H, title, border=1, align="C", fill=True)
        x += w
    return top + HEADER_ROW_H


def _row(pdf: FPDF, y: float, index: int, person: RosterEntry) -> None:
    x = MARGIN
    pdf.set_line_width(0.2)
    pdf.set_text_color(0)
    pdf.c_margin = 1.5
    values = (str(index), person.full_name, person.position, person_number(person.enrolment_id), "")
    for (_title, w, align), value in zip(COLUMNS, values):
        _fit_line(pdf, value, w - 3, 10.5 if align == "L" else 10)
        pdf.set_xy(x, y)
        pdf.cell(w, ROW_H, value, border=1, align=align)
        x += w
    pdf.c_margin = 0
