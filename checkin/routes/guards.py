"""Who may do what: shared checks used by the handlers of every audience."""

from __future__ import annotations

from starlette.requests import Request

from ..errors import Problem
from ..models import Course, Organiser
from ..sign_in import current_organiser
from ..store import courses
from ..web import services


async def require_organiser(request: Request) -> Organiser:
    svc = services(request)
    organiser = await current_organiser(request, svc.db, svc.now())
    if organiser is None:
        raise Problem(401, "not_signed_in", "Sign in as an organiser first.")
    request.state.organiser = organiser
    return organiser


async def require_course(request: Request, organiser: Organiser, course_id: int) -> Course:
    """The course, if this organiser organises it (admins see every course)."""
    db = services(request).db
    course = await db.read(courses.get_course, course_id)
    if course is None:
        raise Problem(404, "course_not_found", f"There is no course {course_id}.")
    if not organiser.is_admin and not await db.read(courses.is_course_organiser, course_id, organiser.id):
        raise Problem(403, "not_your_course", "You are not an organiser of this course.")
    return course
