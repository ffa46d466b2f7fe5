"""Corrections by hand: check a person in (through the one scan path), undo a check-in, register and
check in a walk-in at the door, and the course's audit trail (its CSV export is in reports.py)."""

from __future__ import annotations

from datetime import datetime

from starlette.responses import Response
from starlette.routing import Route

from ..course import corrections, importing
from .. import forms
from ..door import rules, scanning
from ..errors import Problem
from ..text import whole_number
from ..forms import Form
from ..i18n import gettext as _
from ..store import courses, participants, people
from ..store.audit import list_audit
from .organiser_base import Page, organiser_page
from .organiser_people import _person, _session_from_form, render_person


def _arrival(form: Form, page: Page, session) -> datetime | None:
    """The time the organiser says the person arrived (course zone), or None for "now"."""
    moment = form.clock_time("arrived_at", required=False)
    if moment is None:
        return None
    at = forms.at_local(session.starts_at.astimezone(forms.ZoneInfo(page.course.time_zone)).date(), moment,
                        page.course.time_zone)
    if at > page.now:
        form.errors["arrived_at"] = _("This time is still to come.")
    return at


def _who(page: Page) -> corrections.Correction:
    return corrections.Correction(page.course_id, page.organiser.id, page.now)


@organiser_page
async def person_checkin(page: Page) -> Response:
    person = await _person(page)
    session = await _session_from_form(page)
    form = Form(page.form)
    reason = form.text("reason", required=True, max_len=500)
    arrived = _arrival(form, page, session)
    if not form.ok:
        return await render_person(page, person, {f"checkin-{session.id}": form.errors.get("reason", ""),
                                                  f"arrived-{session.id}": form.errors.get("arrived_at", "")}, 422)
    outcome = await page.svc.db.write(corrections.manual_checkin_tx, _who(page), person.enrolment_id, session.id,
                                      session.title, reason, arrived)
    if outcome.event is not None:
        page.svc.broadcaster.publish(outcome.event)
    return page.redirect(f"/courses/{page.course_id}/people/{person.enrolment_id}?done={outcome.reason}#attendance")


@organiser_page
async def person_undo(page: Page) -> Response:
    person = await _person(page)
    scan_id = page.param("scan_id")
    own = await page.svc.db.read(participants.list_person_scans, person.enrolment_id)
    if not any(s.id == scan_id for s in own):
        raise Problem(404, "scan_not_found", "This check-in is not one of this participant's.")
    form = Form(page.form)
    reason = form.text("reason", required=True, max_len=500)
    if not form.ok:
        return await render_person(page, person, {f"undo-{scan_id}": form.errors["reason"]}, 422)
    await scanning.undo_scan(page.svc.db, page.svc.broadcaster, page.course_id, scan_id, page.now,
                             organiser_id=page.organiser.id, reason=reason)
    return page.redirect(f"/courses/{page.course_id}/people/{person.enrolment_id}?done=undone#attendance")


# ---------------------------------------------------------------- walk-in


async def _walk_in_context(page: Page, form: Form, duplicates=(), status_code: int = 200) -> Response:
    db, q = page.svc.db, page.request.query_params
    sessions = await db.read(courses.list_sessions, page.course_id)
    replaces_id = form.values.get("replaces") or q.get("replaces", "")
    replaces = None
    if whole_number(replaces_id) is not None:
        replaces = await db.read(participants.get_person, page.course_id, whole_number(replaces_id))
    if replaces is not None and "unit" not in form.values:
        form.values["unit"] = replaces.unit
    current = rules.pick_session(sessions, page.now)
    form.values.setdefault("session_id", str(current.id) if current else "")
    search = q.get("find", "")[:100]
    matches = await db.read(people.search_enrolments, page.course_id, search, 10) if len(search.strip()) >= 2 else []
    return page.render("organiser/walk_in.html", {
        "form": form, "sessions": sessions, "current": current, "replaces": replaces, "duplicates": duplicates,
        "find": search, "matches": matches,
    }, status_code=status_code)


@organiser_page
async def walk_in(page: Page) -> Response:
    if page.form is None:
        return await _walk_in_context(page, Form({}))
    form, details = forms.read_person(page.form)
    replaces_text = form.raw("replaces", 20)
    session_text = form.raw("session_id", 20)
    sessions = await page.svc.db.read(courses.list_sessions, page.course_id)
    session = next((s for s in sessions if str(s.id) == session_text), None)
    if session_text and session is None:
        form.errors["session_id"] = _("Choose one of the options.")
    replaces = None
    if replaces_text:
        replaces = await page.svc.db.read(participants.get_person, page.course_id, whole_number(replaces_text) or 0)
        if replaces is None:
            form.errors["replaces"] = _("This person is not on this course.")
    if details is None or not form.ok:
        return await _walk_in_context(page, form, status_code=422)
    roster = await page.svc.db.read(people.list_roster, page.course_id)
    duplicates = importing.likely_duplicates(roster, details)
    if duplicates and not form.checked("confirm_duplicate"):
        return await _walk_in_context(page, form, duplicates, 409)

    link = participants.PersonLink(replaces.enrolment_id, replaces.full_name, replaces.unit) if replaces else None
    enrolment_id, outcome = await page.svc.db.write(
        corrections.walk_in_tx, _who(page), corrections.WalkIn(details, session.id if session else None, link))
    if outcome is not None and outcome.event is not None:
        page.svc.broadcaster.publish(outcome.event)
    done = outcome.reason if outcome is not None else "registered"
    return page.redirect(f"/courses/{page.course_id}/people/{enrolment_id}?done={done}")


# ---------------------------------------------------------------- audit trail


@organiser_page
async def audit_page(page: Page) -> Response:
    entries = await page.svc.db.read(list_audit, page.course_id, None, 500)
    return page.render("organiser/audit.html", {"entries": entries})


routes = [
    Route("/courses/{course_id:int}/people/{enrolment_id:int}/checkin", person_checkin, methods=["POST"],
          name="person_checkin"),
    Route("/courses/{course_id:int}/people/{enrolment_id:int}/scans/{scan_id:int}/undo", person_undo,
          methods=["POST"], name="person_undo"),
    Route("/courses/{course_id:int}/walk-in", walk_in, methods=["GET", "POST"], name="walk_in"),
    Route("/courses/{course_id:int}/audit", audit_page, name="audit_page"),
]
