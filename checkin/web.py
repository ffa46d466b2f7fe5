"""What every handler shares: the services on app.state, templates, and error answers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import jinja2
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.templating import Jinja2Templates

from . import i18n
from .auth import DeviceCache, csrf_token
from .documents.badge_images import BadgeImages
from .metrics import Metrics
from .live.relay import Relay
from .clock import Clock
from .errors import Problem, not_stored
from .settings import Settings
from .sign_in import SignInLimiter
from .store.db import Database
from .documents.workers import Workers


@dataclass
class Services:
    settings: Settings
    db: Database
    broadcaster: Relay  # publish after commit, subscribe to follow a course (relay.py)
    clock: Clock
    templates: Jinja2Templates
    devices: DeviceCache
    sign_in: SignInLimiter
    metrics: Metrics
    workers: Workers
    badge_images: BadgeImages
    draining: bool = False  # set on SIGTERM: /readyz says 503 so the load balancer moves away

    def now(self) -> datetime:
        return self.clock()


def services(request: Request) -> Services:
    return request.app.state.services


def make_templates(settings: Settings) -> Jinja2Templates:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(settings.templates_dir)),
        autoescape=jinja2.select_autoescape(["html", "xml"]),
        extensions=["jinja2.ext.i18n"],
        undefined=jinja2.StrictUndefined,
    )
    env.install_gettext_callables(i18n.gettext, i18n.ngettext, newstyle=True)
    env.globals["current_language"] = i18n.current_language
    env.filters["localtime"] = _localtime
    return Jinja2Templates(env=env)


def _localtime(moment: datetime | None, zone: str = "Asia/Ho_Chi_Minh", fmt: str = "%H:%M") -> str:
    from zoneinfo import ZoneInfo

    if moment is None:
        return ""
    return moment.astimezone(ZoneInfo(zone)).strftime(fmt)


def render(request: Request, template: str, context: dict[str, Any] | None = None, status_code: int = 200) -> HTMLResponse:
    svc = services(request)
    context = dict(context or {})
    context.setdefault("organiser", getattr(request.state, "organiser", None))
    context["csrf"] = csrf_token(request) if "session" in request.scope else ""
    context["lang"] = i18n.current_language()
    context["settings"] = svc.settings
    return svc.templates.TemplateResponse(request, template, context, status_code=status_code)


def is_api(request: Request) -> bool:
    return request.url.path.startswith("/api/")


async def problem_handler(request: Request, exc: Problem) -> Response:
    if is_api(request):
        return JSONResponse(exc.as_json(), status_code=exc.status, headers=exc.headers)
    response = render(request, "error.html", {"problem": exc}, status_code=exc.status)
    response.headers.update(exc.headers)
    return response


async def http_error_handler(request: Request, exc: Exception) -> Response:
    status = getattr(exc, "status_code", 500)
    code = {404: "not_found", 405: "method_not_allowed"}.get(status, "http_error")
    message = {404: "There is nothing at this address.", 405: "This address does not accept that method."}.get(
        status, str(getattr(exc, "detail", "")) or "The request could not be handled."
    )
    response = await problem_handler(request, Problem(status, code, message))
    response.headers.update(getattr(exc, "headers", None) or {})  # a 405 says which methods the address takes
    return response


async def overflow_handler(request: Request, exc: Exception) -> Response:
    # A path id with more digits than any row id (/courses/99999999999999999999) passes Starlette's int
    # convertor and then overflows SQLite's integer: no such thing exists, so it is a 404, not a 500.
    return await problem_handler(request, Problem(404, "not_found", "There is nothing at this address."))


async def not_synced_handler(request: Request, exc: Exception) -> Response:
    return await problem_handler(request, not_stored())


async def server_error_handler(request: Request, exc: Exception) -> Response:
    problem = Problem(500, "server_error", "Something went wrong on the server; nothing was recorded. Try again.")
    if is_api(request):
        return JSONResponse(problem.as_json(), status_code=500)
    message = i18n.gettext(problem.message)
    return HTMLResponse(f"<!doctype html><title>500</title><h1>500</h1><p>{message}</p>", status_code=500)


def utcnow() -> datetime:
    return datetime.now(timezone.utc)
