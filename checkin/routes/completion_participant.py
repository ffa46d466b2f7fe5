"""The cadre's own completion pages behind their badge link: feedback per session (and, with the reflection
and the room code, the rest of issue 14). The badge code in the path is the key, as on the badge page: an
unknown or revoked code is the same 404, and no session cookie is given."""

from __future__ import annotations

import re
import sqlite3
import time
from dataclasses import dataclass

from starlette.requests import Request
from starlette.datastructures import UploadFile
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from .. import i18n
from ..bodies import limit, read_form, read_json, upload_limit
from ..completion import feedback as feedback_rules
from ..completion import reflection as reflection_rules
from ..completion import room_code
from ..door import scanning
from ..door.scanning import ScanInput
from ..completion import uploads
from ..course import attendance
from ..errors import Problem
from ..models import BadgeHolder, Course, CourseSession
from ..store import completion, courses, feedback, people, reflections
from ..store.completion import CompletionRule
from ..store.feedback import NewFeedback
from ..web import services

CODE = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
PRIVATE = {"Cache-Control": "private, no-store", "X-Robots-Tag": "noindex, nofollow"}


@dataclass(frozen=True, slots=True)
class Cadre:
    """The badge's holder and what their completion pages need."""

    holder: BadgeHolder
    course: Course
    sessions: list[CourseSession]
    statuses: dict[int, str]
    rule: CompletionRule
    given: set[int]


def _read_cadre(conn: sqlite3.Connection, code: str, now) -> Cadre | None:
    holder = people.get_badge_holder(conn, code)
    if holder is None or holder.revoked:
        return None
    sessions = courses.list_sessions(conn, holder.course_id)
    rows = {r.session_id: r for r in people.list_enrolment_attendance(conn, holder.enrolment_id)}
    statuses = {s.id: attendance.status_of(s, rows.get(s.id), now) for s in sessions}
    return Cadre(holder, courses.get_course(conn, holder.course_id), sessions, statuses,
                 completion.get_rule(conn, holder.course_id), feedback.given_sessions(conn, holder.enrolment_id))


async def cadre_of(request: Request) -> Cadre | None:
    code = request.path_params["code"]
    if not CODE.match(code):
        return None
    svc = services(request)
    return await svc.db.read(_read_cadre, code, svc.now())


def page(request: Request, template: str, context: dict, status_code: int = 200) -> Response:
    """A participant's page: no organiser, no session cookie (see routes.badges)."""
    svc = services(request)
    context = {"organiser": None, "csrf": "", "lang": i18n.current_language(), "settings": svc.settings, **context}
    response = svc.templates.TemplateResponse(request, template, context, status_code=status_code)
    response.headers.update(PRIVATE)
    return response


def missing(request: Request) -> Response:
    return page(request, "participant/badge_missing.html", {}, status_code=404)


# --- feedback ------------------------------------------------------------------------------------------


def _feedback_page(request: Request, cadre: Cadre, *, error: Problem | None = None, sent: int | None = None,
                   status_code: int = 200) -> Response:
    now = services(request).now()
    items = []
    for s in cadre.sessions:
        refusal = feedback_rules.may_give(s, cadre.statuses[s.id], s.id in cadre.given, now)
        items.append((s, refusal))
    return page(request, "completion/feedback.html", {
        "course": cadre.course, "holder": cadre.holder, "items": items, "rule": cadre.rule, "error": error,
        "sent": sent, "now": now,
    }, status_code=status_code)


def _give_tx(conn: sqlite3.Connection, code: str, answer: feedback_rules.Answer, now) -> None:
    holder = people.get_badge_holder(conn, code, lock=True)  # one answer per person and session, even at once
    if holder is None or holder.revoked:
        raise Problem(404, "badge_not_found", "This badge link is not valid.")
    sessions = {s.id: s for s in courses.list_sessions(conn, holder.course_id)}
    session = sessions.get(answer.session_id)
    if session is None:
        raise Problem(422, "unknown_session", "Choose the session your feedback is about.", field="session_id")
    rows = {r.session_id: r for r in people.list_enrolment_attendance(conn, holder.enrolment_id)}
    status = attendance.status_of(session, rows.get(session.id), now)
    given = session.id in feedback.given_sessions(conn, holder.enrolment_id)
    refusal = feedback_rules.may_give(session, status, given, now)
    if refusal:
        raise feedback_rules.refuse(refusal)
    rule = completion.get_rule(conn, holder.course_id)
    if not feedback.insert_feedback(conn, NewFeedback(
        holder.course_id, session.id, holder.enrolment_id, answer.content, answer.speaker, answer.comment,
        rule.feedback_named,
    ), now):
        raise feedback_rules.refuse("feedback_already_given")


async def feedback_page(request: Request) -> Response:
    cadre = await cadre_of(request)
    if cadre is None:
        return missing(request)
    sent = request.query_params.get("sent")
    return _feedback_page(request, cadre, sent=int(sent) if sent and sent.isdigit() else None)


async def give_feedback(request: Request) -> Response:
    cadre = await cadre_of(request)
    if cadre is None:
        return missing(request)
    svc = services(request)
    form = await read_form(request, max_fields=10)
    try:
        answer = feedback_rules.parse_answer(form)
        await svc.db.write(_give_tx, cadre.holder.code, answer, svc.now())
    except Problem as problem:
        cadre = await cadre_of(request)
        return _feedback_page(request, cadre, error=problem, status_code=problem.status)
    finally:
        await form.close()
    return RedirectResponse(f"/b/{cadre.holder.code}/feedback?sent={answer.session_id}#session-{answer.session_id}",
                            status_code=303)


# --- the written reflection ------------------------------------------------------------------------------

REFLECTION_FORM = 256 * 1024  # 50,000 characters of Vietnamese, percent-encoded


def _reflection_page(request: Request, cadre: Cadre, reflection, *, error: Problem | None = None,
                     status_code: int = 200, sent: bool = False) -> Response:
    return page(request, "completion/reflection.html", {
        "course": cadre.course, "holder": cadre.holder, "rule": cadre.rule, "reflection": reflection,
        "error": error, "sent": sent, "now": services(request).now(), "max_text": reflection_rules.MAX_TEXT,
        "max_upload": services(request).settings.max_upload_bytes,
    }, status_code=status_code)


async def reflection_page(request: Request) -> Response:
    cadre = await cadre_of(request)
    if cadre is None:
        return missing(request)
    reflection = await services(request).db.read(reflections.get_reflection, cadre.holder.enrolment_id)
    return _reflection_page(request, cadre, reflection, sent=request.query_params.get("sent") == "1")


def _write_tx(conn: sqlite3.Connection, code: str, now, action: str, text: str = "", file=None) -> None:
    """Save the draft, or submit text or a file: the rule (deadline, accepted already, storage) decided and the
    write made in one transaction, with the person's row locked."""
    holder = people.get_badge_holder(conn, code, lock=True)
    if holder is None or holder.revoked:
        raise Problem(404, "badge_not_found", "This badge link is not valid.")
    rule = completion.get_rule(conn, holder.course_id)
    reflection_rules.may_write(rule, reflections.get_reflection(conn, holder.enrolment_id), now)
    if action == "draft":
        reflections.save_draft(conn, holder.course_id, holder.enrolment_id, text, now)
    elif action == "text":
        reflection_rules.check_storage(conn, rule, holder.enrolment_id, len(text))
        reflections.submit(conn, holder.course_id, holder.enrolment_id, now, body=text)
    else:
        name, media_type, data = file
        reflection_rules.check_storage(conn, rule, holder.enrolment_id, len(data))
        reflections.submit(conn, holder.course_id, holder.enrolment_id, now, file_name=name, file_type=media_type,
                           data=data)


async def save_draft(request: Request) -> Response:
    """The draft, saved as the cadre types (JSON from the page's script)."""
    cadre = await cadre_of(request)
    if cadre is None:
        raise Problem(404, "badge_not_found", "This badge link is not valid.")
    svc = services(request)
    body = await read_json(request)
    text = reflection_rules.clean_text(body.get("draft", ""), field="draft", required=False)
    now = svc.now()
    await svc.db.write(_write_tx, cadre.holder.code, now, "draft", text)
    return JSONResponse({"saved": True, "saved_at": now.isoformat().replace("+00:00", "Z")},
                        headers={"Cache-Control": "no-store"})


async def submit_text(request: Request) -> Response:
    cadre = await cadre_of(request)
    if cadre is None:
        return missing(request)
    svc = services(request)
    form = await read_form(request, max_fields=5)
    try:
        text = reflection_rules.clean_text(form.get("body", ""), field="body", required=True)
        await svc.db.write(_write_tx, cadre.holder.code, svc.now(), "text", text)
    except Problem as problem:
        reflection = await svc.db.read(reflections.get_reflection, cadre.holder.enrolment_id)
        return _reflection_page(request, cadre, reflection, error=problem, status_code=problem.status)
    finally:
        await form.close()
    return RedirectResponse(f"/b/{cadre.holder.code}/reflection?sent=1", status_code=303)


async def submit_file(request: Request) -> Response:
    cadre = await cadre_of(request)
    if cadre is None:
        return missing(request)
    svc = services(request)
    form = await read_form(request, max_files=1, max_fields=5)
    try:
        upload = form.get("file")
        if not isinstance(upload, UploadFile) or not upload.filename:
            raise Problem(422, "file_missing", "Choose the file of your reflection.", field="file")
        data = await upload.read(svc.settings.max_upload_bytes + 1)
        if len(data) > svc.settings.max_upload_bytes:
            raise Problem(413, "file_too_large", "This file is larger than the upload limit. Save a smaller file and "
                          "try again.", field="file")
        name = uploads_name(upload.filename)
        # Checked in a worker process: a hostile file costs that process, not the door.
        inspected = await svc.workers.run(uploads.inspect, data, name)
        await svc.db.write(_write_tx, cadre.holder.code, svc.now(), "file", "",
                           (name, inspected.media_type, data))
    except Problem as problem:
        reflection = await svc.db.read(reflections.get_reflection, cadre.holder.enrolment_id)
        return _reflection_page(request, cadre, reflection, error=problem, status_code=problem.status)
    finally:
        await form.close()
    return RedirectResponse(f"/b/{cadre.holder.code}/reflection?sent=1", status_code=303)


def uploads_name(raw: str) -> str:
    """The file's own name, without folders or control characters, for showing and for the bundle."""
    name = raw.replace("\\", "/").rpartition("/")[2]
    return reflection_rules.safe_name(name, "reflection")[:120]


# --- self check-in with the room code -----------------------------------------------------------------------

ROOM_BODY = 2 * 1024


async def room_page(request: Request) -> Response:
    cadre = await cadre_of(request)
    if cadre is None:
        return missing(request)
    return page(request, "completion/room.html", {"course": cadre.course, "holder": cadre.holder})


async def room_checkin(request: Request) -> Response:
    """The phone read the room code: check it (genuine, fresh, this course, a session open now), then check the
    badge's holder in through the one scan path (method room_code), from the phone the badge is bound to."""
    code = request.path_params["code"]
    svc = services(request)
    started = time.perf_counter()
    try:
        if not CODE.match(code):
            raise Problem(404, "badge_not_found", "This badge link is not valid.")
        holder = await svc.db.read(people.get_badge_holder, code)
        if holder is None or holder.revoked:
            raise Problem(404, "badge_not_found", "This badge link is not valid.")
        body = await read_json(request)
        now = svc.now()
        sessions = await svc.db.read(courses.list_sessions, holder.course_id)
        _room, session = room_code.read(svc.settings.secret_key, body.get("room_code"), holder.course_id, sessions,
                                        now)
        key = room_code.check_key(body.get("device_key"))
        outcome = await scanning.record_scan(svc.db, svc.broadcaster, ScanInput(
            course_id=holder.course_id, method="room_code", code=holder.code, session_id=session.id,
            room_key_hash=room_code.key_hash(svc.settings.secret_key, key),
        ), now)
    except Problem as problem:
        return JSONResponse(problem.as_json(), status_code=problem.status, headers=PRIVATE)
    svc.metrics.scanned(outcome.reason, "room_code", time.perf_counter() - started)
    return JSONResponse(outcome.as_json(), headers=PRIVATE)


routes = [
    Route("/b/{code}/feedback", feedback_page, methods=["GET"], name="feedback_page"),
    Route("/b/{code}/feedback", give_feedback, methods=["POST"], name="give_feedback"),
    Route("/b/{code}/reflection", reflection_page, methods=["GET"], name="reflection_page"),
    Route("/b/{code}/reflection", submit_text, methods=["POST"], name="submit_reflection",
          middleware=limit(REFLECTION_FORM)),
    Route("/b/{code}/reflection/draft", save_draft, methods=["POST"], name="save_reflection_draft",
          middleware=limit(REFLECTION_FORM)),
    Route("/b/{code}/reflection/upload", submit_file, methods=["POST"], name="upload_reflection",
          middleware=upload_limit()),
    Route("/b/{code}/room", room_page, methods=["GET"], name="room_page"),
    Route("/b/{code}/room", room_checkin, methods=["POST"], name="room_checkin", middleware=limit(ROOM_BODY)),
]
