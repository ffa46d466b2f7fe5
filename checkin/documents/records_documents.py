"""A person's training record as a workbook, a PDF and JSON (their data on request). Run in the document
workers (module-level functions of plain data)."""

from __future__ import annotations

import io
from typing import Any

from ..i18n import gettext as _
from ..records.record import Record
from .exports import neutralise, status_label
from .exports_xlsx import STATUS_STYLES, _sheet_name
from .exports_xlsx_writer import Cell, Style, Workbook
from .pdf import FONT_FAMILY, new_document


def _h(titles) -> list[Cell]:
    return [Cell(neutralise(t), Style.HEADER) for t in titles]


def _t(value: object) -> object:
    return neutralise(value)


def record_workbook(found: Record) -> bytes:
    """Courses (one row each), sessions (one row per course and session), units and positions over time."""
    buffer = io.BytesIO()
    book = Workbook(buffer)
    used: set[str] = set()
    p = found.person
    sheet = book.add_sheet(_sheet_name(_("Courses"), used), widths=(12, 40, 30, 20, 10, 10, 10, 16))
    sheet.append([Cell(_t(p.full_name or _("(erased)")), Style.BOLD)])
    sheet.append(_h([_("Date"), _("Course"), _("Unit"), _("Position"), _("Sessions"), _("Attended"), _("Late"),
                     _("Certificate")]))
    for line in found.courses:
        c = line.course
        sheet.append([c.course_date.strftime("%d/%m/%Y"), _t(c.title), _t(c.unit), _t(c.position), len(line.sessions),
                      line.attended, line.late,
                      (c.certificate_code + (" (" + _("revoked") + ")" if c.certificate_revoked else ""))
                      if c.certificate_code else ""])
    sheet = book.add_sheet(_sheet_name(_("Sessions"), used), widths=(12, 40, 40, 16, 18))
    sheet.append(_h([_("Date"), _("Course"), _("Session"), _("Status"), _("Check-in time")]))
    for line in found.courses:
        for s, status, at in line.sessions:
            sheet.append([line.course.course_date.strftime("%d/%m/%Y"), _t(line.course.title), _t(s.title),
                          Cell(status_label(status), STATUS_STYLES.get(status, Style.NORMAL)),
                          at.replace(tzinfo=None) if at else ""])
    sheet = book.add_sheet(_sheet_name(_("Units and positions"), used), widths=(12, 40, 24))
    sheet.append(_h([_("Since"), _("Unit"), _("Position")]))
    for role in found.roles:
        sheet.append([role.since.strftime("%d/%m/%Y"), _t(role.unit), _t(role.position)])
    book.close()
    return buffer.getvalue()


def record_pdf(found: Record) -> bytes:
    """The record on A4 pages: the person, then one block per course with its sessions."""
    p = found.person
    pdf = new_document(title=_("Training record"))
    pdf.set_auto_page_break(True, margin=15)
    pdf.set_margins(15, 15, 15)
    pdf.add_page()
    pdf.set_font(FONT_FAMILY, "B", 16)
    pdf.multi_cell(0, 8, _("Training record"), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(FONT_FAMILY, "B", 13)
    pdf.multi_cell(0, 7, p.full_name or _("(erased)"), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(FONT_FAMILY, "", 10)
    pdf.multi_cell(0, 5, " · ".join(x for x in (p.position, p.unit) if x), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)
    for role in found.roles:
        pdf.multi_cell(0, 5, f"{_('Since')} {role.since.strftime('%d/%m/%Y')}: {role.position} · {role.unit}",
                       new_x="LMARGIN", new_y="NEXT")
    for line in found.courses:
        c = line.course
        pdf.ln(3)
        pdf.set_font(FONT_FAMILY, "B", 11)
        pdf.multi_cell(0, 6, f"{c.course_date.strftime('%d/%m/%Y')} · {c.title}", new_x="LMARGIN", new_y="NEXT")
        pdf.set_font(FONT_FAMILY, "", 9)
        summary = f"{_('Attended')}: {line.attended}/{len(line.sessions)} · {_('Late')}: {line.late}"
        if c.certificate_code:
            summary += f" · {_('Certificate')}: {c.certificate_code}" + (f" ({_('revoked')})" if c.certificate_revoked else "")
        pdf.multi_cell(0, 5, f"{c.position} · {c.unit}", new_x="LMARGIN", new_y="NEXT")
        pdf.multi_cell(0, 5, summary, new_x="LMARGIN", new_y="NEXT")
        for s, status, _at in line.sessions:
            pdf.multi_cell(0, 4.5, f"   {s.title}: {status_label(status)}", new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())


def record_data(found: Record) -> dict[str, Any]:
    """Everything kept about the person, as plain JSON: the data a person may ask for."""
    p = found.person
    return {
        "person": {"id": p.id, "full_name": p.full_name, "unit": p.unit, "position": p.position, "phone": p.phone,
                   "email": p.email, "member_code": p.member_code,
                   "erased_at": p.erased_at.isoformat() if p.erased_at else None},
        "courses": [{
            "course_id": line.course.course_id, "title": line.course.title,
            "date": line.course.course_date.isoformat(), "full_name": line.course.full_name,
            "unit": line.course.unit, "position": line.course.position,
            "certificate": line.course.certificate_code or None,
            "certificate_revoked": line.course.certificate_revoked,
            "sessions": [{"title": s.title, "status": status, "checked_in_at": at.isoformat() if at else None}
                         for s, status, at in line.sessions],
        } for line in found.courses],
        "units_and_positions": [{"since": r.since.isoformat(), "unit": r.unit, "position": r.position}
                                for r in found.roles],
    }
