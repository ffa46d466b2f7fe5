"""The organiser's completion pages: the course's completion rule (exit scans, minimum share, N of M sessions,
feedback and reflection required) and who completes."""

from __future__ import annotations

from starlette.responses import Response
from starlette.routing import Route

from ..completion import feedback as feedback_results
from ..completion import settings_form
from ..i18n import gettext as _
from ..store import completion, courses, feedback, scans
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


routes = [
    Route("/courses/{course_id:int}/completion", completion_settings, methods=["GET", "POST"],
          name="completion_settings"),
    Route("/courses/{course_id:int}/feedback", feedback_page, methods=["GET"], name="feedback_results"),
    Route("/courses/{course_id:int}/feedback.xlsx", feedback_xlsx, methods=["GET"], name="feedback_xlsx"),
]
