"""The organiser's completion pages: the course's completion rule (exit scans, minimum share, N of M sessions,
feedback and reflection required) and who completes."""

from __future__ import annotations

from starlette.responses import Response
from starlette.routing import Route

from ..completion import settings_form
from ..store import completion, courses, scans
from .organiser_base import Page, organiser_page


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


routes = [
    Route("/courses/{course_id:int}/completion", completion_settings, methods=["GET", "POST"],
          name="completion_settings"),
]
