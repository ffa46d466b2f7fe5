"""Organiser reports: exports (xlsx, CSV, scan log, audit), sign-in sheets and paper entry, certificates;
and the public page that confirms a certificate is genuine."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from .. import exports, exports_xlsx
from ..auth import current_organiser
from ..models import Course, Organiser
from ..store import courses, people, reports, scans
from ..web import Services, render, services
from .guards import require_course, require_organiser

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV = "text/csv; charset=utf-8"
PDF = "application/pdf"


async def _course(request: Request) -> tuple[Services, Organiser, Course]:
    organiser = await require_organiser(request)
    course = await require_course(request, organiser, request.path_params["course_id"])
    return services(request), organiser, course


def _download(data: bytes | str, media_type: str, filename: str) -> Response:
    return Response(data, media_type=media_type, headers={
        "Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "no-store",
    })


async def _audit(svc: Services, course: Course, organiser: Organiser, action: str, subject: str) -> None:
    # Exports carry personal data: who took which file is part of the audit trail.
    await svc.db.write(lambda conn: scans.insert_audit(
        conn, course.id, action, svc.now(), organiser_id=organiser.id, subject=subject))


def _stem(course: Course) -> str:
    return f"course-{course.id}-{course.course_date.isoformat()}"


async def reports_page(request: Request) -> Response:
    organiser = await current_organiser(request, services(request).db)
    request.state.organiser = organiser
    if organiser is None:
        return RedirectResponse(f"/login?next={request.url.path}", status_code=303)
    svc = services(request)
    course = await require_course(request, organiser, request.path_params["course_id"])
    sessions = await svc.db.read(courses.list_sessions, course.id)
    roster = await svc.db.read(people.list_roster, course.id)
    return render(request, "reports/index.html", {
        "course": course, "sessions": sessions, "units": sorted({p.unit for p in roster}, key=str.casefold),
        "enrolled": len(roster),
    })


async def export_attendance_xlsx(request: Request) -> Response:
    svc, organiser, course = await _course(request)
    report = await svc.db.read(exports.load_report, course.id, svc.now())
    data = await run_in_threadpool(exports_xlsx.attendance_workbook, report)
    await _audit(svc, course, organiser, "export", "attendance.xlsx")
    return _download(data, XLSX, f"attendance-{_stem(course)}.xlsx")


async def export_attendance_csv(request: Request) -> Response:
    svc, organiser, course = await _course(request)
    report = await svc.db.read(exports.load_report, course.id, svc.now())
    text = await run_in_threadpool(lambda: exports.csv_text(exports.attendance_rows(report)))
    await _audit(svc, course, organiser, "export", "attendance.csv")
    return _download(text, CSV, f"attendance-{_stem(course)}.csv")


async def export_scan_log(request: Request) -> Response:
    svc, organiser, course = await _course(request)
    entries = await svc.db.read(reports.list_scan_log, course.id)
    text = exports.csv_text(exports.scan_log_rows(entries, exports.ZoneInfo(course.time_zone)))
    await _audit(svc, course, organiser, "export", "scan-log.csv")
    return _download(text, CSV, f"scan-log-{_stem(course)}.csv")


async def export_audit(request: Request) -> Response:
    svc, organiser, course = await _course(request)
    entries = await svc.db.read(reports.list_audit, course.id)
    text = exports.csv_text(exports.audit_rows(entries, exports.ZoneInfo(course.time_zone)))
    await _audit(svc, course, organiser, "export", "audit.csv")
    return _download(text, CSV, f"audit-{_stem(course)}.csv")


routes = [
    Route("/courses/{course_id:int}/reports", reports_page, name="reports_page"),
    Route("/courses/{course_id:int}/exports/attendance.xlsx", export_attendance_xlsx, name="export_attendance_xlsx"),
    Route("/courses/{course_id:int}/exports/attendance.csv", export_attendance_csv, name="export_attendance_csv"),
    Route("/courses/{course_id:int}/exports/scan-log.csv", export_scan_log, name="export_scan_log"),
    Route("/courses/{course_id:int}/exports/audit.csv", export_audit, name="export_audit"),
]
