"""What every organiser page shares: sign-in check, CSRF on every POST, the course guard."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from ..auth import check_csrf
from ..bodies import read_form
from ..errors import Problem
from ..models import Course, Organiser
from ..sign_in import current_organiser
from ..web import Services, render, services
from .guards import require_course


@dataclass(frozen=True, slots=True)
class Page:
    request: Request
    svc: Services
    organiser: Organiser
    now: datetime
    form: FormData | None
    course: Course | None

    @property
    def course_id(self) -> int:
        assert self.course is not None
        return self.course.id

    def render(self, template: str, context: dict[str, Any] | None = None, status_code: int = 200) -> Response:
        context = dict(context or {})
        context.setdefault("course", self.course)
        context.setdefault("now", self.now)
        return render(self.request, template, context, status_code=status_code)

    def redirect(self, url: str) -> Response:
        return RedirectResponse(url, status_code=303)

    def param(self, name: str) -> Any:
        return self.request.path_params[name]


Handler = Callable[[Page], Awaitable[Response]]


def organiser_page(handler: Handler | None = None, *, upload: bool = False, admin: bool = False, redirect: bool = True,
                   max_fields: int = 200):
    """Wrap a page handler: signed-in organiser (GET: redirect to sign-in; 401 instead with redirect=False, for
    downloads, JSON and streams), CSRF checked on POST before anything else is read, and the path's course
    loaded only if this organiser organises it."""

    def wrap(fn: Handler):
        @functools.wraps(fn)
        async def endpoint(request: Request) -> Response:
            svc = services(request)
            now = svc.now()
            organiser = await current_organiser(request, svc.db, now)
            if organiser is None:
                if request.method == "GET" and redirect:
                    return RedirectResponse(f"/login?next={quote(request.url.path)}", status_code=303)
                raise Problem(401, "not_signed_in", "Sign in as an organiser first.")
            request.state.organiser = organiser
            if admin and not organiser.is_admin:
                raise Problem(403, "admins_only", "Only an administrator can do this.")
            form = None
            if request.method == "POST":
                # Within the route's body limit (checkin.bodies): an upload route declares upload_limit().
                form = await read_form(request, max_files=1 if upload else 0, max_fields=max_fields)
            try:
                if form is not None:
                    check_csrf(request, form.get("csrf"))
                course = None
                if "course_id" in request.path_params:
                    course = await require_course(request, organiser, request.path_params["course_id"])
                return await fn(Page(request, svc, organiser, now, form, course))
            finally:
                if form is not None:
                    await form.close()

        return endpoint

    return wrap(handler) if handler is not None else wrap
