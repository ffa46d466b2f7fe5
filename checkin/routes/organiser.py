"""Organiser pages: courses and a course's overview."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from .. import attendance, rules
from ..auth import current_organiser
from ..store import courses, devices, people, scans
from ..web import render, services
from .guards import require_course


async def _signed_in(request: Request):
    organiser = await current_organiser(request, services(request).db)
    request.state.organiser = organiser
    return organiser


async def course_list(request: Request) -> Response:
    organiser = await _signed_in(request)
    if organiser is None:
        return RedirectResponse(f"/login?next={request.url.path}", status_code=303)
    db = services(request).db
    found = await db.read(courses.list_courses, None if organiser.is_admin else organiser.id)
    return render(request, "organiser/courses.html", {"courses": found})


async def course_overview(request: Request) -> Response:
    organiser = await _signed_in(request)
    if organiser is None:
        return RedirectResponse(f"/login?next={request.url.path}", status_code=303)
    svc = services(request)
    course = await require_course(request, organiser, request.path_params["course_id"])
    now = svc.now()
    sessions = await svc.db.read(courses.list_sessions, course.id)
    roster = await svc.db.read(people.list_roster, course.id)
    rows = await svc.db.read(scans.list_attendance, course.id)
    result = attendance.people_attendance(sessions, roster, rows, now)
    return render(request, "organiser/course.html", {
        "course": course,
        "sessions": sessions,
        "counts": attendance.session_counts(sessions, result),
        "current": rules.pick_session(sessions, now),
        "enrolled": len(roster),
        "devices": await svc.db.read(devices.list_devices, course.id),
        "now": now,
    })


routes = [
    Route("/courses", course_list, name="course_list"),
    Route("/courses/{course_id:int}", course_overview, name="course_overview"),
]
