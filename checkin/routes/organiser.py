"""Organiser pages: the course list, a course's overview, creating, editing, copying and archiving
courses, and the programme of sessions. People, import and accounts live in organiser_*.py."""

from __future__ import annotations

from datetime import timedelta

from starlette.responses import Response
from starlette.routing import Route

from ..course import attendance
from .. import forms
from ..door import rules
from ..errors import Problem
from ..forms import Form
from ..i18n import gettext as _
from ..store import course_setup, courses, devices, organisers, people, scans
from . import organiser_accounts, organiser_corrections, organiser_import, organiser_people
from .organiser_base import Page, organiser_page


@organiser_page
async def course_list(page: Page) -> Response:
    found = await page.svc.db.read(courses.list_courses, None if page.organiser.is_admin else page.organiser.id)
    return page.render("organiser/courses.html", {
        "courses": [c for c in found if c.archived_at is None],
        "archived": [c for c in found if c.archived_at is not None],
    })


@organiser_page
async def course_overview(page: Page) -> Response:
    db, course = page.svc.db, page.course
    sessions = await db.read(courses.list_sessions, course.id)
    roster = await db.read(people.list_roster, course.id)
    rows = await db.read(scans.list_attendance, course.id)
    result = attendance.people_attendance(sessions, roster, rows, page.now)
    return page.render("organiser/course.html", {
        "sessions": sessions,
        "counts": attendance.session_counts(sessions, result),
        "current": rules.pick_session(sessions, page.now),
        "enrolled": len(roster),
        "devices": await db.read(devices.list_devices, course.id),
    })


def _course_defaults(page: Page) -> dict[str, str]:
    return {"title": "", "course_date": (page.now + timedelta(days=7)).astimezone(page.svc.settings.zone).date().isoformat(),
            "time_zone": page.svc.settings.time_zone, "venue": "", "organiser_name": "", "open_before_min": "30",
            "late_after_min": "10", "after_end": "refuse"}


@organiser_page
async def course_new(page: Page) -> Response:
    if page.form is None:
        return page.render("organiser/course_form.html", {"form": Form({}, values=_course_defaults(page))})
    form, new = forms.read_course(page.form)
    if new is None:
        return page.render("organiser/course_form.html", {"form": form}, status_code=422)

    def create(conn):
        course_id = courses.insert_course(conn, new, page.now, page.organiser.id)
        scans.insert_audit(conn, course_id, "course_created", page.now, organiser_id=page.organiser.id, detail=new.title)
        return course_id

    course_id = await page.svc.db.write(create)
    return page.redirect(f"/courses/{course_id}/sessions")


def _course_values(course) -> dict[str, str]:
    return {"title": course.title, "course_date": course.course_date.isoformat(), "time_zone": course.time_zone,
            "venue": course.venue, "organiser_name": course.organiser_name,
            "open_before_min": str(course.open_before_min), "late_after_min": str(course.late_after_min),
            "after_end": course.after_end}


async def _settings_context(page: Page) -> dict:
    return {"organisers": await page.svc.db.read(course_setup.list_course_organisers, page.course_id),
            "add_error": None}


@organiser_page
async def course_edit(page: Page) -> Response:
    if page.form is None:
        return page.render("organiser/course_form.html", {
            "form": Form({}, values=_course_values(page.course)), **await _settings_context(page)})
    form, new = forms.read_course(page.form)
    if new is None:
        return page.render("organiser/course_form.html", {"form": form, **await _settings_context(page)},
                           status_code=422)

    def update(conn):
        course_setup.update_course(conn, page.course_id, new)
        scans.insert_audit(conn, page.course_id, "course_updated", page.now, organiser_id=page.organiser.id,
                           detail=new.title)

    await page.svc.db.write(update)
    return page.redirect(f"/courses/{page.course_id}")


@organiser_page
async def course_archive(page: Page) -> Response:
    action = page.form.get("action")
    if action not in ("archive", "restore"):
        raise Problem(422, "bad_action", "Choose archive or restore.")
    when = page.now if action == "archive" else None

    def archive(conn):
        course_setup.set_archived(conn, page.course_id, when)
        scans.insert_audit(conn, page.course_id, f"course_{action}d", page.now, organiser_id=page.organiser.id)

    await page.svc.db.write(archive)
    return page.redirect("/courses" if action == "archive" else f"/courses/{page.course_id}")


@organiser_page
async def course_copy(page: Page) -> Response:
    source = page.course
    if page.form is None:
        day = max(source.course_date + timedelta(days=7), page.now.astimezone(page.svc.settings.zone).date())
        return page.render("organiser/course_copy.html", {
            "form": Form({}, values={"title": source.title, "course_date": day.isoformat()})})
    form = Form(page.form)
    title = form.text("title", required=True)
    day = form.day("course_date")
    if not form.ok:
        return page.render("organiser/course_copy.html", {"form": form}, status_code=422)

    def copy(conn):
        course_id = course_setup.copy_course(conn, source, title, day, page.now, page.organiser.id)
        scans.insert_audit(conn, course_id, "course_copied", page.now, organiser_id=page.organiser.id,
                           subject=f"course {source.id}", detail=title)
        return course_id

    course_id = await page.svc.db.write(copy)
    return page.redirect(f"/courses/{course_id}/sessions")


@organiser_page
async def course_add_organiser(page: Page) -> Response:
    form = Form(page.form)
    username = form.text("username", required=True, max_len=60).lower()
    found = await page.svc.db.read(organisers.get_organiser_by_username, username) if form.ok else None
    if form.ok and found is None:
        form.errors["username"] = _("There is no organiser with this user name.")
    if not form.ok:
        return page.render("organiser/course_form.html", {
            "form": Form({}, values=_course_values(page.course)), **await _settings_context(page),
            "add_form": form}, status_code=422)

    def add(conn):
        if course_setup.add_course_organiser(conn, page.course_id, found.id):
            scans.insert_audit(conn, page.course_id, "organiser_added", page.now, organiser_id=page.organiser.id,
                               subject=f"organiser {found.id}", detail=found.username)

    await page.svc.db.write(add)
    return page.redirect(f"/courses/{page.course_id}/edit#organisers")


# ---------------------------------------------------------------- sessions


async def _sessions_page(page: Page, form: Form | None = None, status_code: int = 200) -> Response:
    sessions = await page.svc.db.read(courses.list_sessions, page.course_id)
    if form is None:
        form = Form({}, values=_next_session_values(page, sessions))
    return page.render("organiser/sessions.html", {"sessions": sessions, "form": form}, status_code=status_code)


def _next_session_values(page: Page, sessions) -> dict[str, str]:
    zone = page.course.time_zone
    if sessions:
        start = sessions[-1].ends_at + timedelta(minutes=10)
        start_local = start.astimezone(forms.ZoneInfo(zone))
        end_local = (start + timedelta(minutes=50)).astimezone(forms.ZoneInfo(zone))
        return {"starts": start_local.strftime("%H:%M"), "ends": end_local.strftime("%H:%M")}
    return {"starts": "08:00", "ends": "08:30"}


@organiser_page
async def session_list(page: Page) -> Response:
    if page.form is None:
        return await _sessions_page(page)
    form, new = forms.read_session(page.form, page.course.course_date, page.course.time_zone)
    if new is None:
        return await _sessions_page(page, form, 422)

    def add(conn):
        session_id = courses.insert_session(conn, page.course_id, new)
        scans.insert_audit(conn, page.course_id, "session_added", page.now, organiser_id=page.organiser.id,
                           subject=f"session {session_id}", detail=new.title)

    await page.svc.db.write(add)
    return page.redirect(f"/courses/{page.course_id}/sessions")


async def _session(page: Page):
    session = await page.svc.db.read(course_setup.get_session, page.course_id, page.param("session_id"))
    if session is None:
        raise Problem(404, "session_not_found", "This session is not part of this course.")
    return session


@organiser_page
async def session_edit(page: Page) -> Response:
    session = await _session(page)
    if page.form is None:
        zone = forms.ZoneInfo(page.course.time_zone)
        values = {"title": session.title, "starts": session.starts_at.astimezone(zone).strftime("%H:%M"),
                  "ends": session.ends_at.astimezone(zone).strftime("%H:%M"),
                  "open_before_min": "" if session.own_open_before_min is None else str(session.own_open_before_min),
                  "late_after_min": "" if session.own_late_after_min is None else str(session.own_late_after_min)}
        return page.render("organiser/session_form.html", {"session": session, "form": Form({}, values=values)})
    form, new = forms.read_session(page.form, page.course.course_date, page.course.time_zone)
    if new is None:
        return page.render("organiser/session_form.html", {"session": session, "form": form}, status_code=422)

    def update(conn):
        course_setup.update_session(conn, session.id, new)
        scans.insert_audit(conn, page.course_id, "session_updated", page.now, organiser_id=page.organiser.id,
                           subject=f"session {session.id}", detail=new.title)

    await page.svc.db.write(update)
    return page.redirect(f"/courses/{page.course_id}/sessions")


@organiser_page
async def session_move(page: Page) -> Response:
    session = await _session(page)
    step = {"up": -1, "down": 1}.get(str(page.form.get("direction")))
    if step is None:
        raise Problem(422, "bad_direction", "Move a session up or down.")
    await page.svc.db.write(course_setup.move_session, page.course_id, session.id, step)
    return page.redirect(f"/courses/{page.course_id}/sessions#session-{session.id}")


@organiser_page
async def session_delete(page: Page) -> Response:
    session = await _session(page)

    def delete(conn):
        done = course_setup.delete_session(conn, page.course_id, session.id)
        if done:
            scans.insert_audit(conn, page.course_id, "session_deleted", page.now, organiser_id=page.organiser.id,
                               subject=f"session {session.id}", detail=session.title)
        return done

    if not await page.svc.db.write(delete):
        raise Problem(409, "session_in_use", "This session already has check-ins, so it cannot be deleted. "
                      "Rename it or change its times instead.")
    return page.redirect(f"/courses/{page.course_id}/sessions")


routes = [
    Route("/courses", course_list, name="course_list"),
    Route("/courses/new", course_new, methods=["GET", "POST"], name="course_new"),
    Route("/courses/{course_id:int}", course_overview, name="course_overview"),
    Route("/courses/{course_id:int}/edit", course_edit, methods=["GET", "POST"], name="course_edit"),
    Route("/courses/{course_id:int}/archive", course_archive, methods=["POST"], name="course_archive"),
    Route("/courses/{course_id:int}/copy", course_copy, methods=["GET", "POST"], name="course_copy"),
    Route("/courses/{course_id:int}/organisers", course_add_organiser, methods=["POST"], name="course_add_organiser"),
    Route("/courses/{course_id:int}/sessions", session_list, methods=["GET", "POST"], name="session_list"),
    Route("/courses/{course_id:int}/sessions/{session_id:int}/edit", session_edit, methods=["GET", "POST"],
          name="session_edit"),
    Route("/courses/{course_id:int}/sessions/{session_id:int}/move", session_move, methods=["POST"],
          name="session_move"),
    Route("/courses/{course_id:int}/sessions/{session_id:int}/delete", session_delete, methods=["POST"],
          name="session_delete"),
    *organiser_import.routes,
    *organiser_people.routes,
    *organiser_corrections.routes,
    *organiser_accounts.routes,
]
