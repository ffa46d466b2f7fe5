"""Organiser reports: exports (xlsx, CSV, scan log, audit), sign-in sheets and paper entry, certificates (issued
as a job with its progress); and the public page that confirms a certificate is genuine."""

from __future__ import annotations

import asyncio
import contextlib
from urllib.parse import urlencode

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import Route

from ..documents import certificates, exports, exports_xlsx, signin_sheets
from .. import jobs
from ..bodies import KB, limit
from ..errors import Problem
from ..text import whole_number
from ..models import Course
from ..store import certificates as certificate_store
from ..store import completion
from ..store import audit, courses, people, reports, scans
from ..web import Services, render, services
from .organiser_base import Page, organiser_page

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV = "text/csv; charset=utf-8"
PDF = "application/pdf"


# A download answers a signed-out organiser with 401 (a page redirects to the sign-in, a form post gets 401).
download = organiser_page(redirect=False)


def _download(data: bytes | str, media_type: str, filename: str) -> Response:
    return Response(data, media_type=media_type, headers={
        "Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "no-store",
    })


async def _audit(page: Page, action: str, subject: str) -> None:
    # Exports carry personal data: who took which file is part of the audit trail.
    svc, course_id, organiser_id = page.svc, page.course_id, page.organiser.id
    await svc.db.write(lambda conn: scans.insert_audit(
        conn, course_id, action, svc.now(), organiser_id=organiser_id, subject=subject))


async def _read_aside(svc: Services, fn, *args):
    return await svc.db.read_aside(fn, *args)


def _stem(course: Course) -> str:
    return f"course-{course.id}-{course.course_date.isoformat()}"


@organiser_page
async def reports_page(page: Page) -> Response:
    svc, course, request = page.svc, page.course, page.request
    sessions = await svc.db.read(courses.list_sessions, course.id)
    roster = await svc.db.read(people.list_roster, course.id)
    standing = await svc.db.read(certificates.certificate_standing, course.id, svc.now())
    # Who completes, and what each person still lacks (the completion rule behind the certificate).
    completing = await _read_aside(svc, certificates.completions, course.id, svc.now())
    rule = await svc.db.read(completion.get_rule, course.id)
    return render(request, "reports/index.html", {
        "course": course, "sessions": sessions, "units": sorted({p.unit for p in roster}, key=str.casefold),
        "enrolled": len(roster), "standing": standing, "saved": request.query_params.get("saved") == "1",
        "completing": completing, "completion_rule": rule,
    })


@download
async def export_attendance_xlsx(page: Page) -> Response:
    svc, course = page.svc, page.course
    report = await _read_aside(svc, exports.load_report, course.id, svc.now())
    data = await svc.workers.run(exports_xlsx.attendance_workbook, report)
    await _audit(page, "export", "attendance.xlsx")
    return _download(data, XLSX, f"attendance-{_stem(course)}.xlsx")


async def _csv_export(page: Page, name: str, read, *read_args, rows) -> Response:
    """Read on the side, build the CSV off the event loop (a long log takes a moment, and the door's scans must
    not wait for it), record who took it, and hand it over."""
    data = await _read_aside(page.svc, read, page.course.id, *read_args)
    text = await run_in_threadpool(lambda: exports.csv_text(rows(data, exports.ZoneInfo(page.course.time_zone))))
    await _audit(page, "export", f"{name}.csv")
    return _download(text, CSV, f"{name}-{_stem(page.course)}.csv")


@download
async def export_attendance_csv(page: Page) -> Response:
    return await _csv_export(page, "attendance", exports.load_report, page.svc.now(),
                             rows=lambda report, _zone: exports.attendance_rows(report))


@download
async def export_scan_log(page: Page) -> Response:
    return await _csv_export(page, "scan-log", reports.list_scan_log, rows=exports.scan_log_rows)


@download
async def export_audit(page: Page) -> Response:
    return await _csv_export(page, "audit", audit.list_audit_log, rows=exports.audit_rows)


def _chosen_session(sessions, raw: str | None, *, required: bool):
    if not raw:
        if required:
            raise Problem(422, "session_required", "Choose the session whose sheet you are entering.", field="session")
        return None
    for session in sessions:
        if str(session.id) == raw:
            return session
    raise Problem(404, "unknown_session", "This session is not part of the course.", field="session")


DOCUMENT_LANGUAGES = ("vi", "en")


def _document_language(raw: object) -> str:
    """The language a printed document is written in: Vietnamese unless the organiser chose English; the page's
    own language does not decide it (an organiser may work in English for a Vietnamese course)."""
    if raw is None or raw == "":
        return "vi"
    if raw not in DOCUMENT_LANGUAGES:
        raise Problem(422, "bad_language", "Choose Vietnamese (vi) or English (en) for the document.", field="lang")
    return raw


def _chosen_unit(roster, raw: str | None) -> str | None:
    if raw is None or raw == "*":
        return None
    if not any(p.unit == raw for p in roster):
        raise Problem(404, "unknown_unit", "No one on this course is from that unit.", field="unit")
    return raw


@download
async def sign_in_sheets(page: Page) -> Response:
    svc, course, request = page.svc, page.course, page.request
    sessions = await svc.db.read(courses.list_sessions, course.id)
    roster = await svc.db.read(people.list_roster, course.id)
    session = _chosen_session(sessions, request.query_params.get("session"), required=False)
    unit = _chosen_unit(roster, request.query_params.get("unit"))
    groups = signin_sheets.sign_in_groups(sessions, roster, session_id=session.id if session else None, unit=unit)
    language = _document_language(request.query_params.get("lang"))
    data = await svc.workers.run(signin_sheets.sign_in_sheets_pdf, course, groups, language=language)
    await _audit(page, "export", "sign-in-sheets.pdf")
    return _download(data, PDF, f"sign-in-sheets-{_stem(course)}.pdf")


@organiser_page
async def paper_entry_form(page: Page) -> Response:
    svc, course, request = page.svc, page.course, page.request
    sessions = await svc.db.read(courses.list_sessions, course.id)
    roster = await svc.db.read(people.list_roster, course.id)
    session = _chosen_session(sessions, request.query_params.get("session"), required=False)
    unit = _chosen_unit(roster, request.query_params.get("unit"))
    rows = []
    if session is not None:
        stored = {r.enrolment_id: r for r in await svc.db.read(scans.list_attendance, course.id)
                  if r.session_id == session.id}
        rows = [(p, stored.get(p.enrolment_id)) for p in roster if unit is None or p.unit == unit]
    done = _counts(request, ("entered", "already"))
    return render(request, "reports/paper.html", {
        "course": course, "sessions": sessions, "units": sorted({p.unit for p in roster}, key=str.casefold),
        "session": session, "unit": unit, "rows": rows, "done": done,
        "number": signin_sheets.person_number,
    })


@organiser_page(max_fields=20_000)  # a tick per person on the sheet
async def paper_entry(page: Page) -> Response:
    svc, organiser, course, form = page.svc, page.organiser, page.course, page.form
    sessions = await svc.db.read(courses.list_sessions, course.id)
    session = _chosen_session(sessions, str(form.get("session", "")), required=True)
    numbers = signin_sheets.parse_numbers(form.getlist("tick"), str(form.get("numbers", "")))
    outcomes = await svc.db.write(signin_sheets.record_paper_sheet_tx, course.id, session, numbers, organiser.id,
                                  svc.now())
    for outcome in outcomes:  # published only after the commit
        if outcome.event is not None:
            svc.broadcaster.publish(outcome.event)
    entered = sum(1 for o in outcomes if o.accepted)
    query = _query(session=session.id, unit=form.get("unit") or None, entered=entered, already=len(outcomes) - entered)
    return RedirectResponse(f"/courses/{course.id}/paper?{query}", status_code=303)


@organiser_page
async def certificate_rule(page: Page) -> Response:
    svc, organiser, course, form = page.svc, page.organiser, page.course, page.form
    total = len(await svc.db.read(courses.list_sessions, course.id))
    minimum = certificates.parse_min_sessions(str(form.get("min_sessions", "")), total)
    await svc.db.write(certificates.set_rule_tx, course.id, minimum, organiser.id, svc.now())
    return RedirectResponse(f"/courses/{course.id}/reports?saved=1#certificates-title", status_code=303)


@organiser_page
async def issue_certificates(page: Page) -> Response:
    """Issue and answer with the PDF at once (scripts, small courses); the page starts a job instead."""
    svc, organiser, course = page.svc, page.organiser, page.course
    language = _document_language(page.form.get("lang"))  # before anything is issued
    now = svc.now()
    plan = await svc.workers.run(certificates.plan_at, svc.settings.database, course.id, now)
    await certificates.issue_in_chunks(svc.db.write, plan, now, organiser.id)
    data = await svc.workers.run(certificates.certificates_pdf_at, svc.settings.database, plan,
                                svc.settings.public_url, language=language)
    return _download(data, PDF, f"certificates-{_stem(course)}.pdf")


CERTIFICATES = "certificates"


def _wants_json(page: Page) -> bool:
    return "application/json" in page.request.headers.get("accept", "")


def _job_url(course_id: int, job_id: str) -> str:
    return f"/courses/{course_id}/certificates/jobs/{job_id}"


def _job_json(page: Page, job) -> dict:
    return jobs.as_json(job, page.svc.now(), _job_url(page.course_id, job.id), "/pdf")


@organiser_page
async def start_certificates_job(page: Page) -> Response:
    """Issue the certificates in short transactions, then draw them in a worker: a job the page follows."""
    svc, organiser, course, now = page.svc, page.organiser, page.course, page.now
    language = _document_language(page.form.get("lang"))  # before anything is issued

    async def work(progress: jobs.Progress) -> jobs.JobFile:
        # Who qualifies and the pages are worked out in worker processes: the server only writes, in chunks.
        plan = await svc.workers.run(certificates.plan_at, svc.settings.database, course.id, now)
        await certificates.issue_in_chunks(svc.db.write, plan, now, organiser.id,
                                           progress=lambda done, total: progress.report("issuing", done, total))
        drawn = [0]
        total = len(plan.people)
        follower = asyncio.create_task(progress.follow("drawing", lambda: drawn[0], total))
        try:
            data = await svc.workers.run(certificates.certificates_pdf_at, svc.settings.database, plan,
                                        svc.settings.public_url, language=language,
                                        progress=lambda done: drawn.__setitem__(0, done))
        finally:
            follower.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await follower
        await progress.report("saving", total, total, force=True)
        return jobs.JobFile(data, f"certificates-{_stem(course)}.pdf", PDF)

    job, _started = await jobs.start(svc.db, CERTIFICATES, course.id, organiser.id, svc.now, "issuing", work)
    if job.organiser_id != organiser.id:  # one issue per course at a time
        raise Problem(409, "job_running", "Another organiser is issuing this course's certificates right now. "
                      "Wait for them to finish, then issue again if needed.")
    if _wants_json(page):
        return JSONResponse(_job_json(page, job), status_code=202, headers={"Cache-Control": "no-store"})
    return page.redirect(_job_url(course.id, job.id))


async def _certificates_job(page: Page):
    job = await jobs.get(page.svc.db, page.param("job_id"), page.course_id, page.organiser.id)
    if job.kind != CERTIFICATES:
        raise Problem(404, "job_not_found", "This job is not known (or no longer kept). Start it again.")
    return job


@organiser_page
async def certificates_job(page: Page) -> Response:
    """How far the job is: JSON for the reports page's script, else a page that reloads itself until done."""
    job = await _certificates_job(page)
    if _wants_json(page):
        return JSONResponse(_job_json(page, job), headers={"Cache-Control": "no-store"})
    return page.render("reports/certificates_job.html", {"job": _job_json(page, job)})


@download
async def certificates_job_pdf(page: Page) -> Response:
    job = await _certificates_job(page)
    parts = await jobs.read_file(page.svc.db, job)
    return StreamingResponse(parts, media_type=job.media_type, headers={
        "Content-Disposition": f'attachment; filename="{job.filename}"', "Cache-Control": "no-store",
        "Content-Length": str(job.size),
    })


async def verify_certificate(request: Request) -> Response:
    """Public: anyone holding a certificate's code may see that it is genuine, and what it states."""
    raw = request.path_params.get("code") or request.query_params.get("code", "")
    svc = services(request)
    code = certificates.normalise_code(raw[:40])
    certificate = await svc.db.read(certificate_store.get_certificate_by_code, code) if code else None
    course = await svc.db.read(courses.get_course, certificate.course_id) if certificate else None
    status = 200 if certificate or not raw else 404
    response = render(request, "public/certificate.html", {
        "asked": raw[:40], "certificate": certificate, "course": course,
        "code": certificates.format_code(certificate.code) if certificate else "",
    }, status_code=status)
    response.headers["X-Robots-Tag"] = "noindex"
    return response


def _counts(request: Request, names: tuple[str, ...]) -> dict[str, int]:
    """The counts a redirect put in the query string (entered=3&already=1), to show what was just done."""
    counts = {}
    for name in names:
        raw = request.query_params.get(name)
        if raw is None:
            continue
        number = whole_number(raw)
        if number is None:
            raise Problem(400, "bad_count", "This page's counts are not whole numbers. Open it from its link.",
                          field=name)
        counts[name] = number
    return counts


def _query(**params) -> str:
    return urlencode({k: v for k, v in params.items() if v is not None and v != ""})


PAPER_FORM = 1024 * KB  # up to 20,000 ticks of a sign-in sheet, and the numbers typed beside them

routes = [
    Route("/courses/{course_id:int}/reports", reports_page, name="reports_page"),
    Route("/courses/{course_id:int}/exports/attendance.xlsx", export_attendance_xlsx, name="export_attendance_xlsx"),
    Route("/courses/{course_id:int}/exports/attendance.csv", export_attendance_csv, name="export_attendance_csv"),
    Route("/courses/{course_id:int}/exports/scan-log.csv", export_scan_log, name="export_scan_log"),
    Route("/courses/{course_id:int}/exports/audit.csv", export_audit, name="export_audit"),
    Route("/courses/{course_id:int}/sign-in-sheets.pdf", sign_in_sheets, name="sign_in_sheets"),
    Route("/courses/{course_id:int}/paper", paper_entry_form, methods=["GET"], name="paper_entry_form"),
    Route("/courses/{course_id:int}/paper", paper_entry, methods=["POST"], name="paper_entry", middleware=limit(PAPER_FORM)),
    Route("/courses/{course_id:int}/certificates/rule", certificate_rule, methods=["POST"], name="certificate_rule"),
    Route("/courses/{course_id:int}/certificates.pdf", issue_certificates, methods=["POST"], name="issue_certificates"),
    Route("/courses/{course_id:int}/certificates/jobs", start_certificates_job, methods=["POST"],
          name="start_certificates_job"),
    Route("/courses/{course_id:int}/certificates/jobs/{job_id:str}", certificates_job, name="certificates_job"),
    Route("/courses/{course_id:int}/certificates/jobs/{job_id:str}/pdf", certificates_job_pdf,
          name="certificates_job_pdf"),
    Route("/verify", verify_certificate, name="verify_form"),
    Route("/verify/{code}", verify_certificate, name="verify_certificate"),
]
