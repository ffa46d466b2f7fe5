"""The participant's badge: the page behind the personal link /b/{code}, its images, and the
service worker that keeps it on the phone when the venue's network fails.

The code in the path is a bearer secret. An unknown or revoked code gets the same 404, which says
nothing about whose it was; the page shows only its holder's own name, unit and check-ins.
"""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..course import attendance
from ..documents import badges
from .. import i18n
from ..door import rules
from ..models import BadgeHolder, Course, CourseSession
from ..documents.printing import card_for
from ..store import completion, courses, logos, people
from ..store.people import BadgeLink
from ..store.scans import AttendanceRow
from ..web import services

CODE = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
# The network (and any shared cache on it) must not keep a personal page; the service worker keeps
# its own copy in the phone's Cache Storage, which these headers do not govern.
PRIVATE = {"Cache-Control": "private, no-store", "X-Robots-Tag": "noindex, nofollow"}
CACHE_NAME = "checkin-badge-v1"


@dataclass(frozen=True, slots=True)
class BadgeView:
    holder: BadgeHolder
    course: Course
    sessions: list[CourseSession]
    rows: dict[int, AttendanceRow]  # session id -> this person's row
    logo_version: str | None


def _read_view(conn: sqlite3.Connection, code: str) -> BadgeView | None:
    holder = people.get_badge_holder(conn, code)
    if holder is None or holder.revoked:
        return None
    course = courses.get_course(conn, holder.course_id)
    sessions = courses.list_sessions(conn, holder.course_id)
    rows = {r.session_id: r for r in people.list_enrolment_attendance(conn, holder.enrolment_id)}
    return BadgeView(holder, course, sessions, rows, logos.get_logo_version(conn, holder.course_id))


async def _view(request: Request) -> BadgeView | None:
    code = request.path_params["code"]
    if not CODE.match(code):
        return None
    return await services(request).db.read(_read_view, code)


def _page(request: Request, template: str, context: dict, status_code: int = 200) -> Response:
    # Not web.render: that puts a CSRF token in the session, which would give every participant a
    # session cookie they have no use for.
    svc = services(request)
    context = {"organiser": None, "csrf": "", "lang": i18n.current_language(), "settings": svc.settings, **context}
    response = svc.templates.TemplateResponse(request, template, context, status_code=status_code)
    response.headers.update(PRIVATE)
    return response


def _missing(request: Request) -> Response:
    return _page(request, "participant/badge_missing.html", {}, status_code=404)


def _card(view: BadgeView) -> badges.BadgeCard:
    h = view.holder
    return card_for(view.course, BadgeLink(h.enrolment_id, h.full_name, h.unit, h.position, "", "", h.code))


async def badge_page(request: Request) -> Response:
    view = await _view(request)
    if view is None:
        return _missing(request)
    now = services(request).now()
    code = view.holder.code
    programme = [
        (s, attendance.status_of(s, view.rows.get(s.id), now), view.rows.get(s.id)) for s in view.sessions
    ]
    return _page(request, "participant/badge.html", {
        "view": view, "course": view.course, "holder": view.holder, "programme": programme, "now": now,
        "current": rules.pick_session(view.sessions, now),  # the session the door is checking in for now
        # The completion wing's links (feedback, reflection, the room code).
        "reflection_asked": (await services(request).db.read(completion.get_rule, view.course.id)).require_reflection,
        "cache_name": CACHE_NAME,
        "offline_urls": [f"/b/{code}", f"/b/{code}/qr.svg", "/static/css/app.css", "/static/css/badge.css",
                         "/static/js/badge.js"],
    })


async def badge_png(request: Request) -> Response:
    view = await _view(request)
    if view is None:
        return _missing(request)
    svc, course_id, version = services(request), view.course.id, view.logo_version
    png = await svc.badge_images.badge_png(
        _card(view), version, lambda: svc.db.read(logos.get_logo_data, course_id, version))
    return Response(png, media_type="image/png", headers=PRIVATE)


async def qr_png(request: Request) -> Response:
    view = await _view(request)
    if view is None:
        return _missing(request)
    return Response(badges.qr_png(view.holder.code, scale=12), media_type="image/png", headers=PRIVATE)


async def qr_svg(request: Request) -> Response:
    view = await _view(request)
    if view is None:
        return _missing(request)
    return Response(badges.qr_svg(view.holder.code), media_type="image/svg+xml", headers=PRIVATE)


async def service_worker(request: Request) -> Response:
    # Served from /b/ so that its scope covers the badge pages and nothing else of the site.
    path = services(request).settings.static_dir / "sw-badge.js"
    return Response(
        path.read_text(encoding="utf-8"), media_type="text/javascript",
        headers={"Cache-Control": "no-cache", "Service-Worker-Allowed": "/b/"},
    )


routes = [
    Route("/b/sw.js", service_worker, name="service_worker"),
    Route("/b/{code}", badge_page, name="badge_page"),
    Route("/b/{code}/badge.png", badge_png, name="badge_png"),
    Route("/b/{code}/qr.png", qr_png, name="qr_png"),
    Route("/b/{code}/qr.svg", qr_svg, name="qr_svg"),
]
