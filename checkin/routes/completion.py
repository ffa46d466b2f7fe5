"""The organiser's completion pages: the course's completion rule (exit scans, minimum share, N of M sessions,
feedback and reflection required) and who completes."""

from __future__ import annotations

import asyncio
import contextlib
import re
from urllib.parse import quote

from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from .. import jobs
from ..errors import Problem

from ..completion import feedback as feedback_results
from ..completion import reflection as reflection_rules
from ..completion import room_code
from ..documents import badges
from ..door import rules as door_rules
from ..completion import settings_form
from ..i18n import gettext as _
from ..text import fold
from ..store import completion, courses, feedback, reflections, scans
from .organiser_base import Page, organiser_page

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _settings_tx(conn, rule, session_rules, organiser_id, now) -> None:
    completion.set_rule(conn, rule, now)
    for session_rule in session_rules:
        completion.set_session_rule(conn, session_rule)
    scans.insert_audit(conn, rule.course_id, "completion_rule", now, organiser_id=organiser_id,
                       detail=f"exit scans {'on' if rule.exit_scans else 'off'}, {rule.min_present_pct}% of a session, "
                              f"at least {rule.min_sessions or 'all'} sessions")


@organiser_page
async def completion_settings(page: Page) -> Response:
    svc, course = page.svc, page.course
    sessions = await svc.db.read(courses.list_sessions, course.id)
    if page.form is not None:
        rule = settings_form.parse_rule(page.form, course.id, sessions, course.time_zone)
        session_rules = settings_form.parse_session_rules(page.form, sessions)
        await svc.db.write(_settings_tx, rule, session_rules, page.organiser.id, page.now)
        return page.redirect(f"/courses/{course.id}/completion?saved=1")
    rule = await svc.db.read(completion.get_rule, course.id)
    own = await svc.db.read(completion.list_session_rules, course.id)
    return page.render("completion/settings.html", {
        "rule": rule, "sessions": sessions, "own": own, "saved": page.request.query_params.get("saved") == "1",
    })


async def _results(page: Page):
    svc, course = page.svc, page.course
    sessions = await svc.db.read(courses.list_sessions, course.id)
    own = await svc.db.read(completion.list_session_rules, course.id)
    rows = await svc.db.read_aside(feedback.list_feedback, course.id)
    speakers = {sid: r.speaker for sid, r in own.items() if r.speaker}
    return feedback_results.summarise(sessions, speakers, rows)


@organiser_page
async def feedback_page(page: Page) -> Response:
    per_session, per_speaker = await _results(page)
    rule = await page.svc.db.read(completion.get_rule, page.course_id)
    return page.render("completion/feedback_results.html", {
        "per_session": per_session, "per_speaker": per_speaker, "bars": feedback_results.bars, "rule": rule,
    })


@organiser_page(redirect=False)
async def feedback_xlsx(page: Page) -> Response:
    per_session, per_speaker = await _results(page)
    headers = {
        "sessions": _("Sessions"), "speakers": _("Speakers"), "comments": _("Comments"), "session": _("Session"),
        "speaker": _("Speaker"), "answers": _("Answers"), "content": _("Content"),
        "speaker_rating": _("Speaker rating"), "comment": _("Comment"), "name": _("Full name"), "unit": _("Unit"),
    }
    data = await page.svc.workers.run(feedback_results.workbook, page.course.title, per_session, per_speaker, headers)
    await page.svc.db.write(lambda conn: scans.insert_audit(
        conn, page.course_id, "export", page.now, organiser_id=page.organiser.id, subject="feedback.xlsx"))
    return Response(data, media_type=XLSX, headers={
        "Content-Disposition": f'attachment; filename="feedback-course-{page.course_id}.xlsx"',
        "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff",
    })


# --- reflections: reading, review, the bundle per unit ------------------------------------------------------

STATE_FILTERS = ("", "none", "draft", "submitted", "accepted", "returned")
LIST_LIMIT = 300  # rows drawn at most (as the participants page): a page of 20,000 rows holds the server up
BUNDLE = "reflections"
DOWNLOAD_HEADERS = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff",
                    "Content-Security-Policy": "sandbox; default-src 'none'"}


@organiser_page
async def reflections_page(page: Page) -> Response:
    svc, course, query = page.svc, page.course, page.request.query_params
    listed = await svc.db.read_aside(reflections.list_reflections, course.id)
    units = sorted({x.unit for x in listed}, key=str.casefold)
    unit = query.get("unit")
    unit = None if unit in (None, "*") else unit
    state = query.get("state", "")
    if state not in STATE_FILTERS:
        state = ""
    shown = [x for x in listed if (unit is None or x.unit == unit)
             and (not state or (x.reflection.state if x.reflection else "none") == state)]
    counts = {s: sum(1 for x in listed if (x.reflection.state if x.reflection else "none") == s) for s in STATE_FILTERS[1:]}
    rule = await svc.db.read(completion.get_rule, course.id)
    used = await svc.db.read(reflections.storage_used, course.id)
    return page.render("completion/reflections.html", {
        "listed": shown[:LIST_LIMIT], "found": len(shown), "limit": LIST_LIMIT, "units": units, "unit": unit, "state": state, "counts": counts, "rule": rule,
        "used_mb": round(used / 1_000_000, 1), "states": STATE_FILTERS[1:],
    })


async def _listed(page: Page):
    enrolment_id = page.param("enrolment_id")
    for x in await page.svc.db.read_aside(reflections.list_reflections, page.course_id):
        if x.enrolment_id == enrolment_id:
            return x
    raise Problem(404, "participant_not_found", "No such participant on this course.")


@organiser_page
async def reflection_page(page: Page) -> Response:
    listed = await _listed(page)
    return page.render("completion/reflection_review.html", {"x": listed, "r": listed.reflection,
                                                              "back": page.request.query_params.get("back", "")})


def _review_tx(conn, course_id, enrolment_id, decision, comment, organiser_id, now) -> None:
    people_row = conn.execute("SELECT id FROM enrolments WHERE id = ? AND course_id = ?", (enrolment_id, course_id)).fetchone()
    if people_row is None:
        raise Problem(404, "participant_not_found", "No such participant on this course.")
    current = reflections.get_reflection(conn, enrolment_id)
    if current is None or current.state not in reflection_rules.WITH_CONTENT:
        raise Problem(409, "reflection_not_submitted", "This reflection has not been submitted yet: there is nothing "
                      "to review.")
    reflections.review(conn, enrolment_id, decision, comment, organiser_id, now)
    scans.insert_audit(conn, course_id, f"reflection_{decision}", now, organiser_id=organiser_id,
                       subject=f"enrolment {enrolment_id}", detail=comment)


@organiser_page
async def review_reflection(page: Page) -> Response:
    await _listed(page)  # a person of this course, before anything else is said about the form
    decision, comment = reflection_rules.parse_review(page.form)
    await page.svc.db.write(_review_tx, page.course_id, page.param("enrolment_id"), decision, comment,
                            page.organiser.id, page.now)
    return page.redirect(f"/courses/{page.course_id}/reflections/{page.param('enrolment_id')}?reviewed=1")


@organiser_page(redirect=False)
async def reflection_file(page: Page) -> Response:
    """The uploaded file, always as a download (never shown inline), its type as found in the content."""
    listed = await _listed(page)
    r = listed.reflection
    if r is None or not r.file_size:
        raise Problem(404, "file_not_found", "This reflection has no uploaded file.")
    data = await page.svc.db.read_aside(reflections.read_file, r.id)
    name = reflection_rules.safe_name(f"{listed.full_name} - {r.file_name}")
    ascii_name = name.encode("ascii", "replace").decode().replace("?", "_")
    return Response(data, media_type=r.file_type, headers={
        **DOWNLOAD_HEADERS,
        "Content-Disposition": f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name)}",
    })


def _bundle_url(course_id: int, job_id: str) -> str:
    return f"/courses/{course_id}/reflections/jobs/{job_id}"


def _bundle_json(page: Page, job) -> dict:
    return jobs.as_json(job, page.svc.now(), _bundle_url(page.course_id, job.id), "/file")


@organiser_page
async def start_bundle(page: Page) -> Response:
    """All reflections of a unit (or of everyone) as one zip or one PDF: a job, drawn in a worker process."""
    svc, course, organiser, form = page.svc, page.course, page.organiser, page.form
    fmt = str(form.get("format", "zip"))
    if fmt not in ("zip", "pdf"):
        raise Problem(422, "invalid_field", "Choose a zip or one PDF.", field="format")
    unit = form.get("unit")
    unit = None if unit in (None, "*") else str(unit)
    stem = re.sub(r"[^a-z0-9]+", "-", fold(unit or "all")).strip("-")[:40] or "unit"  # a header is ASCII

    async def work(progress: jobs.Progress) -> jobs.JobFile:
        done = [0]
        follower = asyncio.create_task(progress.follow("bundling", lambda: done[0], 0))
        try:
            data, count = await svc.workers.run(reflection_rules.bundle_at, svc.settings.database, course.id, unit,
                                                fmt, progress=lambda n: done.__setitem__(0, n))
        finally:
            follower.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await follower
        await progress.report("saving", count, count, force=True)
        media = "application/pdf" if fmt == "pdf" else "application/zip"
        return jobs.JobFile(data, f"reflections-course-{course.id}-{stem}.{fmt}", media)

    job, _started = await jobs.start(svc.db, BUNDLE, course.id, organiser.id, svc.now, "bundling", work)
    if job.organiser_id != organiser.id:
        raise Problem(409, "job_running", "Another organiser is bundling this course's reflections right now. Wait "
                      "for them to finish, then start again.")
    if "application/json" in page.request.headers.get("accept", ""):
        return JSONResponse(_bundle_json(page, job), status_code=202, headers={"Cache-Control": "no-store"})
    return page.redirect(_bundle_url(course.id, job.id))


async def _bundle_job(page: Page):
    job = await jobs.get(page.svc.db, page.param("job_id"), page.course_id, page.organiser.id)
    if job.kind != BUNDLE:
        raise Problem(404, "job_not_found", "This job is not known (or no longer kept). Start it again.")
    return job


@organiser_page
async def bundle_job(page: Page) -> Response:
    job = await _bundle_job(page)
    if "application/json" in page.request.headers.get("accept", ""):
        return JSONResponse(_bundle_json(page, job), headers={"Cache-Control": "no-store"})
    return page.render("completion/bundle_job.html", {"job": _bundle_json(page, job)})


@organiser_page(redirect=False)
async def bundle_file(page: Page) -> Response:
    job = await _bundle_job(page)
    parts = await jobs.read_file(page.svc.db, job)
    return StreamingResponse(parts, media_type=job.media_type, headers={
        **DOWNLOAD_HEADERS, "Content-Disposition": f'attachment; filename="{job.filename}"',
        "Content-Length": str(job.size),
    })


# --- the room code screen -------------------------------------------------------------------------------------


async def _room_session(page: Page):
    sessions = await page.svc.db.read(courses.list_sessions, page.course_id)
    raw = page.request.query_params.get("session", "")
    if raw:
        chosen = next((s for s in sessions if str(s.id) == raw), None)
        if chosen is None:
            raise Problem(404, "unknown_session", "This session is not a session of this course.")
        return sessions, chosen
    return sessions, door_rules.pick_session(sessions, page.now)


@organiser_page
async def room_screen(page: Page) -> Response:
    """The organiser's full-screen room code: a QR that changes every few seconds while the session is open."""
    sessions, session = await _room_session(page)
    return page.render("completion/room_screen.html", {
        "sessions": sessions, "session": session, "step": room_code.STEP_SECONDS,
    })


def _room_state(page: Page, session) -> dict:
    now = page.now
    open_now = session is not None and session.opens_at <= now < session.ends_at
    return {
        "session": None if session is None else {"id": session.id, "title": session.title},
        "open": open_now,
        "code": room_code.make(page.svc.settings.secret_key, page.course_id, session.id, now) if open_now else None,
        "step": room_code.STEP_SECONDS, "refresh_in": round(room_code.seconds_left(now), 3),
        "now": now.isoformat().replace("+00:00", "Z"),
    }


@organiser_page(redirect=False)
async def room_state(page: Page) -> Response:
    """What the room screen shows now: the code (for the QR image), and the second phones refused."""
    _sessions, session = await _room_session(page)
    refused = await page.svc.db.read(completion.list_room_refusals, page.course_id, 20)
    state = _room_state(page, session)
    state["refused"] = [{"scan_id": r.scan_id, "name": r.full_name, "unit": r.unit,
                         "at": r.at.isoformat().replace("+00:00", "Z"), "enrolment_id": r.enrolment_id}
                        for r in refused]
    return JSONResponse(state, headers={"Cache-Control": "no-store"})


@organiser_page(redirect=False)
async def room_qr(page: Page) -> Response:
    _sessions, session = await _room_session(page)
    state = _room_state(page, session)
    if not state["open"]:
        raise Problem(409, "room_code_session_closed", "This room code is for a session that is not open for "
                      "check-in now.")
    return Response(badges.qr_svg(state["code"]), media_type="image/svg+xml", headers={"Cache-Control": "no-store"})


@organiser_page
async def release_room_device(page: Page) -> Response:
    """Let a badge bind to a new phone (the first one was lost or broken)."""
    enrolment_id = page.param("enrolment_id")
    await _listed(page)

    def release(conn):
        if completion.release_room_device(conn, enrolment_id):
            scans.insert_audit(conn, page.course_id, "room_device_released", page.now, organiser_id=page.organiser.id,
                               subject=f"enrolment {enrolment_id}")

    await page.svc.db.write(release)
    return page.redirect(f"/courses/{page.course_id}/room?released={enrolment_id}")


routes = [
    Route("/courses/{course_id:int}/completion", completion_settings, methods=["GET", "POST"],
          name="completion_settings"),
    Route("/courses/{course_id:int}/feedback", feedback_page, methods=["GET"], name="feedback_results"),
    Route("/courses/{course_id:int}/feedback.xlsx", feedback_xlsx, methods=["GET"], name="feedback_xlsx"),
    Route("/courses/{course_id:int}/reflections", reflections_page, methods=["GET"], name="reflections_page"),
    Route("/courses/{course_id:int}/reflections/bundle", start_bundle, methods=["POST"], name="reflections_bundle"),
    Route("/courses/{course_id:int}/reflections/jobs/{job_id}", bundle_job, methods=["GET"], name="reflections_job"),
    Route("/courses/{course_id:int}/reflections/jobs/{job_id}/file", bundle_file, methods=["GET"],
          name="reflections_job_file"),
    Route("/courses/{course_id:int}/reflections/{enrolment_id:int}", reflection_page, methods=["GET"],
          name="reflection_review_page"),
    Route("/courses/{course_id:int}/reflections/{enrolment_id:int}/review", review_reflection, methods=["POST"],
          name="review_reflection"),
    Route("/courses/{course_id:int}/reflections/{enrolment_id:int}/file", reflection_file, methods=["GET"],
          name="reflection_file"),
    Route("/courses/{course_id:int}/room", room_screen, methods=["GET"], name="room_screen"),
    Route("/courses/{course_id:int}/room/state.json", room_state, methods=["GET"], name="room_state"),
    Route("/courses/{course_id:int}/room/qr.svg", room_qr, methods=["GET"], name="room_qr"),
    Route("/courses/{course_id:int}/room/devices/{enrolment_id:int}/release", release_room_device, methods=["POST"],
          name="release_room_device"),
]
