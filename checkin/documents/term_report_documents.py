"""The term report as an xlsx workbook and a PDF, in the caller's language (run in the document workers)."""

from __future__ import annotations

import io

from ..i18n import gettext as _
from ..records.term_report import MEASURES, TermReport
from .exports import neutralise
from .exports_xlsx import _sheet_name
from .exports_xlsx_writer import Cell, Style, Workbook
from .pdf import FONT_FAMILY, new_document


def measure_labels() -> dict[str, str]:
    return {"nominated": _("Nominated"), "attended": _("Attended"), "certified": _("Certified")}


def _h(titles) -> list[Cell]:
    return [Cell(neutralise(t), Style.HEADER) for t in titles]


def _pct(value: int | None) -> object:
    return "" if value is None else value / 100


def report_workbook(report: TermReport) -> bytes:
    """Sheets: units x courses (three numbers and two shares per course, then the unit's totals), courses,
    positions, cadres lacking a requirement. Numbers are numbers; shares are fractions (0.85 = 85 %)."""
    labels = measure_labels()
    buffer = io.BytesIO()
    book = Workbook(buffer)
    used: set[str] = set()
    sheet = book.add_sheet(_sheet_name(_("Units x courses"), used), widths=(40,) + (11,) * (5 * len(report.courses) + 5),
                           freeze=(1, 2))
    head = [_("Unit")]
    sub = [""]
    for c in [*report.courses, None]:
        name = f"{c.course_date:%d/%m/%Y} {c.title}" if c else _("All courses")
        head += [name, "", "", "", ""]
        sub += [labels["nominated"], labels["attended"], labels["certified"], _("% attended"), _("% certified")]
    sheet.append(_h(head))
    sheet.append(_h(sub))

    def numbers(cell) -> list[object]:
        if cell is None:
            return [0, 0, 0, "", ""]
        return [cell.nominated, cell.attended, cell.certified, _pct(cell.pct("attended")), _pct(cell.pct("certified"))]

    for unit_id, name in report.units:
        line: list[object] = [neutralise(name or _("(no unit)"))]
        for c in report.courses:
            line += numbers(report.cells.get((unit_id, c.id)))
        sheet.append(line + numbers(report.unit_totals.get(unit_id)))
    total: list[object] = [Cell(_("Total"), Style.BOLD)]
    for c in report.courses:
        total += numbers(report.course_totals[c.id])
    sheet.append(total + numbers(report.total))

    sheet = book.add_sheet(_sheet_name(_("Courses"), used), widths=(12, 44, 12, 12, 12))
    sheet.append(_h([_("Date"), _("Course"), labels["nominated"], labels["attended"], labels["certified"]]))
    for c in report.courses:
        t = report.course_totals[c.id]
        sheet.append([c.course_date.strftime("%d/%m/%Y"), neutralise(c.title), t.nominated, t.attended, t.certified])

    sheet = book.add_sheet(_sheet_name(_("Positions"), used), widths=(30, 12, 12, 12))
    sheet.append(_h([_("Position"), labels["nominated"], labels["attended"], labels["certified"]]))
    for position, t in report.positions:
        sheet.append([neutralise(position or "—"), t.nominated, t.attended, t.certified])

    sheet = book.add_sheet(_sheet_name(_("Lacking a requirement"), used), widths=(40, 30, 20, 50))
    sheet.append(_h([_("Unit"), _("Full name"), _("Position"), _("Requirements not met")]))
    names = dict(report.all_units)
    for unit_id, gaps in sorted(report.gaps.items(), key=lambda x: (names.get(x[0], "") or "").casefold()):
        for g in gaps:
            sheet.append([neutralise(names.get(unit_id, "") or _("(no unit)")), neutralise(g.full_name or _("(erased)")),
                          neutralise(g.position), neutralise("; ".join(g.missing))])
    book.close()
    return buffer.getvalue()


def report_pdf(report: TermReport) -> bytes:
    """Landscape A4: per unit, each course's three numbers; then positions and the cadres lacking requirements."""
    labels = measure_labels()
    pdf = new_document(title=report.title, orientation="L")
    pdf.set_auto_page_break(True, margin=12)
    pdf.set_margins(12, 12, 12)
    pdf.add_page()
    pdf.set_font(FONT_FAMILY, "B", 15)
    pdf.multi_cell(0, 8, f"{_('Term report')}: {report.title}", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(FONT_FAMILY, "", 9)
    t = report.total
    pdf.multi_cell(0, 5, f"{labels['nominated']}: {t.nominated} · {labels['attended']}: {t.attended}"
                         f" ({t.pct('attended') or 0}%) · {labels['certified']}: {t.certified} ({t.pct('certified') or 0}%)",
                   new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)
    pdf.set_font(FONT_FAMILY, "B", 11)
    pdf.multi_cell(0, 6, _("Units"), new_x="LMARGIN", new_y="NEXT")
    for unit_id, name in report.units:
        u = report.unit_totals[unit_id]
        pdf.set_font(FONT_FAMILY, "B", 9)
        pdf.multi_cell(0, 5, f"{name or _('(no unit)')}: {u.nominated} / {u.attended} / {u.certified}"
                             f" ({u.pct('certified') or 0}% {labels['certified'].lower()})", new_x="LMARGIN", new_y="NEXT")
        pdf.set_font(FONT_FAMILY, "", 8)
        parts = []
        for c in report.courses:
            cell = report.cells.get((unit_id, c.id))
            if cell:
                parts.append(f"{c.course_date:%d/%m/%y} {c.title[:30]}: {cell.nominated}/{cell.attended}/{cell.certified}")
        if parts:
            pdf.multi_cell(0, 4, " · ".join(parts), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)
    pdf.set_font(FONT_FAMILY, "B", 11)
    pdf.multi_cell(0, 6, _("Positions"), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(FONT_FAMILY, "", 9)
    for position, cell in report.positions:
        pdf.multi_cell(0, 5, f"{position or '—'}: {cell.nominated} / {cell.attended} / {cell.certified}",
                       new_x="LMARGIN", new_y="NEXT")
    if report.requirements:
        pdf.ln(2)
        pdf.set_font(FONT_FAMILY, "B", 11)
        pdf.multi_cell(0, 6, _("Lacking a requirement"), new_x="LMARGIN", new_y="NEXT")
        pdf.set_font(FONT_FAMILY, "", 8)
        names = dict(report.all_units)
        for unit_id, gaps in report.gaps.items():
            pdf.set_font(FONT_FAMILY, "B", 9)
            pdf.multi_cell(0, 5, names.get(unit_id, "") or _("(no unit)"), new_x="LMARGIN", new_y="NEXT")
            pdf.set_font(FONT_FAMILY, "", 8)
            for g in gaps:
                pdf.multi_cell(0, 4, f"   {g.full_name or _('(erased)')} ({g.position}): {'; '.join(g.missing)}",
                               new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())


__all__ = ["MEASURES", "report_pdf", "report_workbook"]
