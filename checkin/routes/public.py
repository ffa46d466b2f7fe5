"""Pages for everyone: home, language switch, organiser sign-in and sign-out."""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from .. import i18n
from ..auth import check_csrf
from ..bodies import SIGN_IN, limit, read_form
from ..errors import Problem
from ..settings import LANGUAGES
from ..sign_in import PASSWORD, begin_session, client_address, current_organiser, end_session, user_key
from ..store import courses, organisers
from ..web import render, services


async def home(request: Request) -> Response:
    svc = services(request)
    organiser = await current_organiser(request, svc.db, svc.now())
    request.state.organiser = organiser
    course_list = []
    if organiser:
        course_list = await svc.db.read(courses.list_courses, None if organiser.is_admin else organiser.id)
    demo = organiser is None and await svc.db.read(organisers.get_organiser_by_username, "demo") is not None
    return render(request, "home.html", {"courses": course_list[:5], "demo": demo})


async def switch_language(request: Request) -> Response:
    lang = request.path_params["lang"]
    if lang not in LANGUAGES:
        raise Problem(404, "unknown_language", "This language is not available.")
    response = RedirectResponse(_local(request.query_params.get("next", "/")), status_code=303)
    response.set_cookie(i18n.COOKIE, lang, max_age=365 * 24 * 3600, samesite="lax", httponly=False)
    return response


async def login_form(request: Request) -> Response:
    return render(request, "login.html", {"next": _local(request.query_params.get("next", "/courses")), "error": None})


async def login(request: Request) -> Response:
    svc = services(request)
    form = await read_form(request, max_fields=10)
    check_csrf(request, form.get("csrf"))
    username = str(form.get("username", ""))[:100].strip()
    password = str(form.get("password", ""))[:200]
    next_url = _local(str(form.get("next", "/courses")))
    name, address, now = user_key(username), client_address(request), svc.now()

    def page(error: str, status_code: int) -> Response:
        return render(request, "login.html", {"next": next_url, "username": username, "error": error},
                      status_code=status_code)

    if await svc.sign_in.admit(PASSWORD, name, address, now):
        return page("too_many", 429)
    organiser = await svc.db.read(organisers.authenticate, username, password) if username and password else None
    if organiser is None:
        if username and password:
            await svc.sign_in.fail(PASSWORD, name, address, now)
        return page("wrong", 400)
    if organiser.disabled:
        return page("disabled", 403)
    await svc.sign_in.succeed(PASSWORD, name, address)
    await begin_session(request, svc.db, organiser.id, now)
    return RedirectResponse(next_url, status_code=303)


async def logout(request: Request) -> Response:
    svc = services(request)
    form = await read_form(request, max_fields=10)
    check_csrf(request, form.get("csrf"))
    ended = await end_session(request, svc.db, svc.now())
    if ended is not None:
        svc.broadcaster.end_sessions([ended])
    return RedirectResponse("/", status_code=303)


def _local(url: str) -> str:
    """Only same-site paths, so a crafted link cannot bounce a signed-in organiser elsewhere."""
    parts = urlsplit(url)
    if parts.scheme or parts.netloc or not url.startswith("/") or url.startswith("//") or "\\" in url:
        return "/"
    return url


routes = [
    Route("/", home, name="home"),
    Route("/lang/{lang}", switch_language, name="switch_language"),
    Route("/login", login_form, methods=["GET"], name="login_form"),
    Route("/login", login, methods=["POST"], name="login", middleware=limit(SIGN_IN)),
    Route("/logout", logout, methods=["POST"], name="logout", middleware=limit(SIGN_IN)),
]
