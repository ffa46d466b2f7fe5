"""The cadre's own completion pages behind their badge link: feedback per session (and, with the reflection
and the room code, the rest of issue 14). The badge code in the path is the key, as on the badge page: an
unknown or revoked code is the same 404, and no session cookie is given."""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from .. import i18n
from ..bodies import read_form
from ..completion import feedback as feedback_rules
from ..course import attendance
from ..errors import Problem
from ..models import BadgeHolder, Course, CourseSession
from ..store import completion, courses, feedback, people
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


routes = [
    Route("/b/{code}/feedback", feedback_page, methods=["GET"], name="feedback_page"),
    Route("/b/{code}/feedback", give_feedback, methods=["POST"], name="give_feedback"),
]
