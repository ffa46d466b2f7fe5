"""Participants: the list with search and filters, one person's page, adding and editing by hand,
badges (re-issue, revoke) and excusals. Check-in corrections and walk-ins: organiser_corrections.py."""

from __future__ import annotations

from starlette.responses import Response
from starlette.routing import Route

from ..course import attendance, importing
from .. import forms
from ..door import rules
from ..errors import Problem
from ..text import whole_number
from ..forms import Form
from ..i18n import gettext as _
from ..course.people_filter import STATUS_FILTERS, PeopleFilter, filter_people
from ..store import courses, participants, people, scans
from ..store.audit import enrolment_subject, list_audit, scan_subject
from .organiser_base import Page, organiser_page

LIST_LIMIT = 300


@organiser_page
async def people_list(page: Page) -> Response:
    db, q = page.svc.db, page.request.query_params
    sessions = await db.read(courses.list_sessions, page.course_id)
    session_ids = {str(s.id): s.id for s in sessions}
    wanted = PeopleFilter(
        query=q.get("q", "")[:100], unit=q.get("unit", "")[:200], session_id=session_ids.get(q.get("session", "")),
        status=q.get("status", "") if q.get("status", "") in STATUS_FILTERS else "",
    )
    roster = await db.read(people.list_roster, page.course_id)
    rows = await db.read(scans.list_attendance, page.course_id)
    everyone = attendance.people_attendance(sessions, roster, rows, page.now)
    found = filter_people(everyone, wanted)
    imported = {k: n for k in ("added", "updated", "unchanged") if (n := whole_number(q.get(k))) is not None}
    return page.render("organiser/people.html", {
        "sessions": sessions, "people": found[:LIST_LIMIT], "found": len(found), "total": len(everyone),
        "limit": LIST_LIMIT, "wanted": wanted, "units": await db.read(participants.list_units, page.course_id),
        "statuses": STATUS_FILTERS, "imported": imported if len(imported) == 3 else None,
    })


async def _person(page: Page) -> participants.PersonRecord:
    person = await page.svc.db.read(participants.get_person, page.course_id, page.param("enrolment_id"))
    if person is None:
        raise Problem(404, "participant_not_found", "No such participant on this course.")
    return person


@organiser_page
async def person_page(page: Page) -> Response:
    return await render_person(page, await _person(page))


async def render_person(page: Page, person: participants.PersonRecord, errors: dict[str, str] | None = None,
                        status_code: int = 200) -> Response:
    """The person page; `errors` puts a correction form's message next to its field (key: form id)."""
    db = page.svc.db
    sessions = await db.read(courses.list_sessions, page.course_id)
    person_scans = await db.read(participants.list_person_scans, person.enrolment_id)
    rows = [r for r in await db.read(scans.list_attendance, page.course_id) if r.enrolment_id == person.enrolment_id]
    by_session = {r.session_id: r for r in rows}
    subjects = [enrolment_subject(person.enrolment_id), *(scan_subject(s.id) for s in person_scans)]
    return page.render("organiser/person.html", {
        "person": person, "sessions": sessions,
        "statuses": {s.id: attendance.status_of(s, by_session.get(s.id), page.now) for s in sessions},
        "rows": by_session, "scans": person_scans,
        "scans_by_session": {s.id: [x for x in person_scans if x.session_id == s.id] for s in sessions},
        "audit": await db.read(list_audit, page.course_id, subjects),
        "current": rules.pick_session(sessions, page.now),
        "done": "" if errors else page.request.query_params.get("done", ""),
        "errors": errors or {},
    }, status_code=status_code)


def _person_values(person) -> dict[str, str]:
    return {"full_name": person.full_name, "unit": person.unit, "position": person.position, "phone": person.phone,
            "email": person.email, "member_code": person.member_code}


@organiser_page
async def person_new(page: Page) -> Response:
    if page.form is None:
        return page.render("organiser/person_form.html", {"form": Form({}), "person": None, "duplicates": []})
    form, details = forms.read_person(page.form)
    if details is None:
        return page.render("organiser/person_form.html", {"form": form, "person": None, "duplicates": []}, 422)
    roster = await page.svc.db.read(people.list_roster, page.course_id)
    duplicates = importing.likely_duplicates(roster, details)
    if duplicates and not form.checked("confirm_duplicate"):
        return page.render("organiser/person_form.html", {"form": form, "person": None, "duplicates": duplicates}, 409)

    def add(conn):
        participant_id = people.insert_participant(conn, details, page.now)
        enrolment_id = people.enrol(conn, page.course_id, participant_id, page.now)
        scans.insert_audit(conn, page.course_id, "person_added", page.now, organiser_id=page.organiser.id,
                           subject=enrolment_subject(enrolment_id), detail=details.full_name)
        return enrolment_id

    enrolment_id = await page.svc.db.write(add)
    return page.redirect(f"/courses/{page.course_id}/people/{enrolment_id}?done=added")


@organiser_page
async def person_edit(page: Page) -> Response:
    person = await _person(page)
    if page.form is None:
        return page.render("organiser/person_form.html", {
            "form": Form({}, values=_person_values(person)), "person": person, "duplicates": []})
    form, details = forms.read_person(page.form)
    if details is None:
        return page.render("organiser/person_form.html", {"form": form, "person": person, "duplicates": []}, 422)

    def update(conn):
        people.update_participant(conn, person.participant_id, details, page.now)
        changed = [k for k, v in _person_values(person).items() if getattr(details, k) != v]
        scans.insert_audit(conn, page.course_id, "person_updated", page.now, organiser_id=page.organiser.id,
                           subject=enrolment_subject(person.enrolment_id), detail=", ".join(changed))

    await page.svc.db.write(update)
    return page.redirect(f"/courses/{page.course_id}/people/{person.enrolment_id}?done=saved")


@organiser_page
async def person_badge(page: Page) -> Response:
    person = await _person(page)
    action = page.form.get("action")
    if action not in ("reissue", "revoke"):
        raise Problem(422, "bad_action", "Choose re-issue or revoke.")

    def change(conn):
        if action == "reissue":
            people.issue_badge(conn, person.enrolment_id, page.now)
        else:
            people.revoke_badge(conn, person.enrolment_id, page.now)
        scans.insert_audit(conn, page.course_id, f"badge_{action}d", page.now, organiser_id=page.organiser.id,
                           subject=enrolment_subject(person.enrolment_id))

    await page.svc.db.write(change)
    return page.redirect(f"/courses/{page.course_id}/people/{person.enrolment_id}?done=badge_{action}d#badge")


async def _session_from_form(page: Page):
    text = str(page.form.get("session_id", ""))
    sessions = await page.svc.db.read(courses.list_sessions, page.course_id)
    wanted = whole_number(text)
    for session in sessions:
        if wanted is not None and session.id == wanted:
            return session
    raise Problem(422, "unknown_session", "Choose a session of this course.")


@organiser_page
async def person_excuse(page: Page) -> Response:
    person = await _person(page)
    session = await _session_from_form(page)
    form = Form(page.form)
    note = form.text("note", max_len=500)
    clear = page.form.get("action") == "clear"
    if not clear and (not note or not form.ok):
        message = form.errors.get("note") or _("Give the reason for the excuse (for example: on duty, ill).")
        return await render_person(page, person, {f"excuse-{session.id}": message}, 422)

    def excuse(conn):
        if clear:
            done = participants.clear_excused(conn, person.enrolment_id, session.id)
        else:
            done = participants.set_excused(conn, person.enrolment_id, session.id, note, page.now)
        event = None
        if done:
            scans.insert_audit(conn, page.course_id, "excuse_cleared" if clear else "excused", page.now,
                               organiser_id=page.organiser.id, subject=enrolment_subject(person.enrolment_id),
                               detail=f"{session.title}: {note}" if note else session.title)
            # Live views recount on it (an excused person is no longer "not yet arrived").
            event = scans.insert_event(conn, page.course_id, "excuse", {
                "session_id": session.id, "enrolment_id": person.enrolment_id, "excused": not clear,
            }, page.now)
        return done, event

    done, event = await page.svc.db.write(excuse)
    if event is not None:
        page.svc.broadcaster.publish(event)
    outcome = ("excuse_cleared" if clear else "excused") if done else "not_excusable"
    return page.redirect(f"/courses/{page.course_id}/people/{person.enrolment_id}?done={outcome}#attendance")


routes = [
    Route("/courses/{course_id:int}/people", people_list, name="people_list"),
    Route("/courses/{course_id:int}/people/new", person_new, methods=["GET", "POST"], name="person_new"),
    Route("/courses/{course_id:int}/people/{enrolment_id:int}", person_page, name="person_page"),
    Route("/courses/{course_id:int}/people/{enrolment_id:int}/edit", person_edit, methods=["GET", "POST"],
          name="person_edit"),
    Route("/courses/{course_id:int}/people/{enrolment_id:int}/badge", person_badge, methods=["POST"],
          name="person_badge"),
    Route("/courses/{course_id:int}/people/{enrolment_id:int}/excuse", person_excuse, methods=["POST"],
          name="person_excuse"),
]
