"""The attendance workbook: a units summary, a participants x sessions matrix, and a sheet per session.

Every text cell goes through exports.neutralise, so a name like "=HYPERLINK(...)" stays text in Excel.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterable

from .exports import AttendanceReport, method_label, neutralise, status_label
from .exports_xlsx_writer import Cell, Style, Workbook
from ..i18n import gettext as _

STATUS_STYLES = {"present": Style.GOOD, "late": Style.WARN, "excused": Style.MUTED, "absent": Style.BAD,
                 "left_early": Style.WARN}
MAX_WIDTH = 60
SHEET_NAME_BAD = re.compile(r"[\[\]:*?/\\]")


def attendance_workbook(report: AttendanceReport) -> bytes:
    """The whole workbook as .xlsx bytes."""
    buffer = io.BytesIO()
    book = Workbook(buffer)
    used: set[str] = set()
    _units_sheet(book, _sheet_name(_("Units"), used), report)
    _matrix_sheet(book, _sheet_name(_("Participants x sessions"), used), report)
    for session in report.sessions:
        _session_sheet(book, _sheet_name(f"{session.position}. {session.title}", used), report, session)
    if report.unit_results is not None:
        _unit_results_sheet(book, _sheet_name(_("Result notice by unit"), used), report)
    book.close()
    return buffer.getvalue()


def _sheet_name(title: str, used: set[str]) -> str:
    """Excel's rules: at most 31 characters, none of []:*?/\\, not starting or ending with ', unique."""
    base = SHEET_NAME_BAD.sub(" ", title).strip().strip("'")[:31].strip() or "Sheet"
    name, n = base, 2
    while name.lower() in used:
        suffix = f" ({n})"
        name, n = base[: 31 - len(suffix)] + suffix, n + 1
    used.add(name.lower())
    return name


def _header(titles: Iterable[str]) -> list[Cell]:
    return [Cell(neutralise(t), Style.HEADER) for t in titles]


def _width(values: Iterable[str], title: str = "") -> float:
    # Vietnamese letters with stacked marks are no wider than plain ones: characters plus a little air.
    return min(MAX_WIDTH, max([len(title), 4] + [len(v) for v in values]) * 1.1 + 2)


def _status(status: str) -> Cell:
    return Cell(status_label(status), STATUS_STYLES.get(status, Style.NORMAL))


def _session_sheet(book: Workbook, name: str, report: AttendanceReport, session) -> None:
    titles = [_("No."), _("Full name"), _("Unit"), _("Position"), _("Status"), _("Check-in time"), _("Method"),
              _("Device"), _("Note")]
    rows = [(p, report.details.get((p.person.enrolment_id, session.id))) for p in report.people]
    sheet = book.add_sheet(name, widths=[
        6, _width((p.person.full_name for p, _d in rows), titles[1]), _width((p.person.unit for p, _d in rows)),
        _width((p.person.position for p, _d in rows)), 16, 20, 24, _width((d.device for _p, d in rows if d), titles[7]),
        _width((d.note for _p, d in rows if d), titles[8]),
    ], freeze=(2, 1))
    sheet.append(_header(titles))
    labels = {status: _status(status) for status in ("present", "late", "excused", "absent", "pending", "left_early")}
    methods: dict[str, str] = {}
    for number, (person, detail) in enumerate(rows, start=1):
        entry = person.person
        method = ""
        if detail is not None:
            method = methods.get(detail.method) or methods.setdefault(detail.method, method_label(detail.method))
        sheet.append([
            number, neutralise(entry.full_name), neutralise(entry.unit), neutralise(entry.position),
            labels[person.statuses[session.id]], report.local(person.times[session.id]), method,
            neutralise(detail.device) if detail else None, neutralise(detail.note) if detail else None,
        ])


def _matrix_sheet(book: Workbook, name: str, report: AttendanceReport) -> None:
    sessions = report.sessions
    titles = [_("No."), _("Full name"), _("Unit"), _("Position")]
    titles += [f"{s.position}. {s.title}" for s in sessions] + [_("Sessions attended")]
    sheet = book.add_sheet(name, widths=[
        6, _width((p.person.full_name for p in report.people), titles[1]),
        _width(p.person.unit for p in report.people), _width(p.person.position for p in report.people),
        *[18 for _s in sessions], 12,
    ], freeze=(2, 1))
    sheet.append(_header(titles))
    labels = {status: _status(status) for status in ("present", "late", "excused", "absent", "pending", "left_early")}
    for number, person in enumerate(report.people, start=1):
        entry = person.person
        sheet.append([
            number, neutralise(entry.full_name), neutralise(entry.unit), neutralise(entry.position),
            *[labels[person.statuses[s.id]] for s in sessions], person.attended(),
        ])


def unit_summary(report: AttendanceReport) -> list[dict]:
    """Per unit: enrolled, attended (on time or late) each session, attended every session; sorted by name."""
    sessions = report.sessions
    units: dict[str, dict] = {}
    for person in report.people:
        unit = units.setdefault(person.person.unit, {"unit": person.person.unit, "enrolled": 0, "all": 0,
                                                     "sessions": dict.fromkeys((s.id for s in sessions), 0)})
        unit["enrolled"] += 1
        for session in sessions:
            if person.statuses[session.id] in ("present", "late"):
                unit["sessions"][session.id] += 1
        if sessions and person.attended() == len(sessions):
            unit["all"] += 1
    return [units[name] for name in sorted(units, key=str.casefold)]


def _units_sheet(book: Workbook, name: str, report: AttendanceReport) -> None:
    sessions = report.sessions
    units = unit_summary(report)
    titles = [_("Unit"), _("Enrolled")] + [f"{s.position}. {s.title}" for s in sessions]
    titles.append(_("Attended every session"))
    sheet = book.add_sheet(name, widths=[_width((u["unit"] for u in units), titles[0]), 10,
                                         *[18 for _s in sessions], 16], freeze=(1, 1))
    sheet.append(_header(titles))
    for unit in units:
        sheet.append([neutralise(unit["unit"]), unit["enrolled"], *[unit["sessions"][s.id] for s in sessions],
                      unit["all"]])
    total = [_("All units"), len(report.people)]
    total += [sum(u["sessions"][s.id] for u in units) for s in sessions] + [sum(u["all"] for u in units)]
    sheet.append([Cell(v, Style.BOLD) for v in total])


def _unit_results_sheet(book: Workbook, name: str, report: AttendanceReport) -> None:
    """The units wing's result notice as a sheet: per invited unit, its cadres and their sessions (units/results.py)."""
    from ..units.results import result_rows

    header, *rows = result_rows(report.unit_results)
    sheet = book.add_sheet(name, widths=[_width((r[0] for r in rows), header[0]), _width((r[1] for r in rows), header[1]),
                                         16, *[16 for _s in report.sessions], 8, 12], freeze=(1, 2))
    sheet.append(_header(header))
    for row in rows:
        sheet.append([neutralise(v) for v in row])
