"""The unit's pages behind its private link /u/{secret}: nominating cadres (enter, paste, edit, remove, confirm,
replace), the unit's badges, the live view of who of its people arrived, and its result notice.

Every route starts with `unit_page`: a malformed secret is a plain 404 (it cannot be a link); a well-formed one
that opens nothing is a 404 counted against the address (too many: 429); a revoked one is a 410. What a page
shows is read for the link's own unit only: nothing of another unit is reachable through a link.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from .. import forms
from ..auth import check_csrf
from ..bodies import read_form
from ..errors import Problem
from ..models import Course
from ..sign_in import client_address
from ..course import mailing
from ..documents import badges, signin_sheets
from ..documents.printing import cards_for
from ..store import courses, logos, people, units
from ..store.people import PersonDetails
from ..store.units import SummonedUnit, Summons
from ..text import fold, whole_number
from ..units import links, nominations, results
from ..units import live as live_view
from ..web import Services, render, services

PRIVATE = {"Cache-Control": "private, no-store", "X-Robots-Tag": "noindex, nofollow", "Referrer-Policy": "no-referrer"}
MAX_PASTED = 100  # lines of a pasted list


@dataclass(frozen=True, slots=True)
class UnitPage:
    request: Request
    svc: Services
    now: datetime
    form: FormData | None
    secret: str
    course: Course
    unit: SummonedUnit
    summons: Summons

    @property
    def base(self) -> str:
        return f"/u/{self.secret}"

    @property
    def actor(self) -> nominations.Actor:
        return nominations.Actor(None, self.unit.name)

    def render(self, template: str, context: dict[str, Any] | None = None, status_code: int = 200) -> Response:
        context = {"course": self.course, "unit": self.unit, "summons": self.summons, "base": self.base,
                   "now": self.now, "organiser": None, **(context or {})}
        response = render(self.request, template, context, status_code=status_code)
        response.headers.update(PRIVATE)
        return response

    def redirect(self, where: str = "") -> Response:
        return RedirectResponse(self.base + where, status_code=303, headers=PRIVATE)


async def open_link(request: Request, secret: str, now: datetime) -> links.Holder:
    svc = services(request)
    if not links.SECRET.match(secret):
        raise links.refusal("unknown")
    address = client_address(request)
    if await svc.sign_in.admit(links.UNIT_LINK, links.LIMIT_NAME, address, now):
        raise Problem(429, "too_many_attempts", "Too many wrong unit links from this network. Wait a quarter of an "
                                                "hour, then try again.")
    found = await svc.db.read(links.find_link, secret)
    if isinstance(found, str):
        if found == "unknown":
            await svc.sign_in.fail(links.UNIT_LINK, links.LIMIT_NAME, address, now)
        raise links.refusal(found)
    return found


def unit_page(fn: Callable[[UnitPage], Awaitable[Response]] | None = None, *, max_fields: int = 50):
    def wrap(handler):
        @functools.wraps(handler)
        async def endpoint(request: Request) -> Response:
            svc = services(request)
            now = svc.now()
            secret = request.path_params["secret"]
            holder = await open_link(request, secret, now)
            form = None
            if request.method == "POST":
                form = await read_form(request, max_fields=max_fields)
            try:
                if form is not None:
                    check_csrf(request, form.get("csrf"))

                def load(conn):
                    return (courses.get_course(conn, holder.course_id),
                            units.get_summoned_unit(conn, holder.course_id, holder.summoned_id),
                            units.get_summons(conn, holder.course_id))

                course, unit, summons = await svc.db.read(load)
                if request.method == "GET" and (unit.last_opened_at is None
                                                or (now - unit.last_opened_at).total_seconds() > 60):
                    await svc.db.write(units.touch_opened, unit.id, now)
                return await handler(UnitPage(request, svc, now, form, secret, course, unit, summons))
            finally:
                if form is not None:
                    await form.close()

        return endpoint

    return wrap(fn) if fn is not None else wrap


# --- nominating ---------------------------------------------------------------------------------------------------


async def _nominate_page(page: UnitPage, errors: dict[str, str] | None = None, form: forms.Form | None = None,
                         problem: Problem | None = None, status_code: int = 200, prefix: str = "a") -> Response:
    """The nomination page; `form` (with `prefix`: "a" the add form, "e<id>" an edit, "s<id>" a replacement) is
    shown back with its values and messages, its section open."""
    db = page.svc.db
    nominees = [n for n in await db.read(units.list_nominees, page.unit.id) if n.state != "replaced"]
    subs = await db.read(units.list_substitutions, page.course.id, page.unit.id)
    deadline_passed = page.summons.deadline is not None and page.now >= page.summons.deadline
    return page.render("units/link/nominate.html", {
        "nominees": nominees, "substitutions": subs, "deadline_passed": deadline_passed,
        "left": page.unit.quota - len(nominees), "form": form or forms.Form({}), "errors": errors or {},
        "form_prefix": prefix,
        "problem": problem, "done": page.request.query_params.get("done", ""),
        "editing": whole_number(page.request.query_params.get("edit", "")),
        "replacing": whole_number(page.request.query_params.get("replace", "")),
    }, status_code)


@unit_page
async def unit_home(page: UnitPage) -> Response:
    return await _nominate_page(page)


def _person(page: UnitPage, data) -> tuple[forms.Form, PersonDetails | None]:
    values = {k: v for k, v in data.items() if isinstance(v, str)}
    values["unit"] = page.unit.name
    return forms.read_person(values)


def _pasted(page: UnitPage, text: str) -> list[PersonDetails]:
    """Lines "name; position; phone; e-mail; member code" (tabs from a spreadsheet, or ; or ,)."""
    persons = []
    lines = [line for line in text.splitlines() if line.strip()]
    if len(lines) > MAX_PASTED:
        raise Problem(422, "too_many_lines", "Paste at most 100 lines at once.")
    for line in lines:
        sep = "\t" if "\t" in line else (";" if ";" in line else ",")
        cells = [c.strip() for c in line.split(sep)] + [""] * 5
        form, person = _person(page, dict(zip(("full_name", "position", "phone", "email", "member_code"), cells)))
        if person is None:
            raise Problem(422, "pasted_line_invalid", "A pasted line could not be read: each line is a name, then "
                                                      "the position, phone, e-mail and member code, separated by tabs "
                                                      "or semicolons.")
        persons.append(person)
    return persons


@unit_page
async def unit_add(page: UnitPage) -> Response:
    pasted = str(page.form.get("pasted", ""))[:20000]
    form = None
    try:
        if pasted.strip():
            persons = _pasted(page, pasted)
        else:
            form, person = _person(page, page.form)
            if person is None:
                return await _nominate_page(page, form=form, status_code=422)
            persons = [person]
        await page.svc.db.write(nominations.add_nominees_tx, page.course.id, page.unit.id, persons, page.actor,
                                page.now)
    except Problem as problem:
        return await _nominate_page(page, form=form, problem=problem, status_code=problem.status)
    return page.redirect("?done=added")


@unit_page
async def unit_nominee(page: UnitPage) -> Response:
    nominee_id = page.request.path_params["nominee_id"]
    action = page.form.get("action")
    try:
        if action == "remove":
            await page.svc.db.write(nominations.remove_nominee_tx, page.course.id, page.unit.id, nominee_id,
                                    page.actor, page.now)
        elif action == "save":
            form, person = _person(page, page.form)
            if person is None:
                return await _nominate_page(page, form=form, status_code=422, prefix=f"e{nominee_id}")
            await page.svc.db.write(nominations.edit_nominee_tx, page.course.id, page.unit.id, nominee_id, person,
                                    page.actor, page.now)
        else:
            raise Problem(422, "bad_action", "Choose save or remove.")
    except Problem as problem:
        return await _nominate_page(page, problem=problem, status_code=problem.status)
    return page.redirect(f"?done={'removed' if action == 'remove' else 'saved'}")


@unit_page
async def unit_confirm(page: UnitPage) -> Response:
    try:
        await page.svc.db.write(nominations.confirm_tx, page.course.id, page.unit.id, page.actor, page.now)
    except Problem as problem:
        return await _nominate_page(page, problem=problem, status_code=problem.status)
    return page.redirect("?done=confirmed")


@unit_page
async def unit_substitute(page: UnitPage) -> Response:
    nominee_id = page.request.path_params["nominee_id"]
    form, person = _person(page, page.form)
    reason = forms.Form(page.form).text("reason", max_len=300)
    if person is None:
        return await _nominate_page(page, form=form, status_code=422, prefix=f"s{nominee_id}")
    try:
        state = await page.svc.db.write(nominations.propose_substitution_tx, page.course.id, page.unit.id,
                                        nominee_id, person, reason, page.actor, page.now)
    except Problem as problem:
        return await _nominate_page(page, form=form, problem=problem, status_code=problem.status,
                                    prefix=f"s{nominee_id}")
    return page.redirect(f"?done=substitution_{state}")


# --- the unit's badges, its part of the sign-in sheet, the day, the result notice ---------------------------------


async def _people(page: UnitPage):
    """The unit's confirmed cadres as the roster has them (with each one's active badge code)."""
    def read(conn):
        nominees = units.list_nominees(conn, page.unit.id)
        ids = units.enrolled_ids(nominees)
        return (people.list_badge_links(conn, page.course.id, enrolment_ids=ids),
                people.list_roster_entries(conn, page.course.id, ids))
    return await page.svc.db.read(read)


@unit_page
async def unit_badges(page: UnitPage) -> Response:
    badge_links, _roster = await _people(page)
    return page.render("units/link/badges.html", {
        "links": [(b, mailing.badge_link(page.svc.settings, b.code)) for b in badge_links]})


def _pdf(data: bytes, name: str) -> Response:
    return Response(data, media_type="application/pdf",
                    headers={**PRIVATE, "Content-Disposition": f'attachment; filename="{name}"'})


@unit_page
async def unit_badges_pdf(page: UnitPage) -> Response:
    badge_links, _roster = await _people(page)
    if not badge_links:
        raise Problem(404, "no_badges_yet", "Badges appear once your unit's list is confirmed.")
    cards = cards_for(page.course, badge_links)
    def logo_of(conn):
        version = logos.get_logo_version(conn, page.course.id)
        return logos.get_logo_data(conn, page.course.id, version) if version else None

    logo = await page.svc.db.read(logo_of)
    data = await page.svc.workers.run(badges.badge_sheets_pdf, cards, "a4-8", logo=logo)
    return _pdf(data, "the-tham-du.pdf")


@unit_page
async def unit_sign_in_sheet(page: UnitPage) -> Response:
    _links, roster = await _people(page)
    sessions = await page.svc.db.read(courses.list_sessions, page.course.id)
    roster = sorted(roster, key=lambda p: fold(p.full_name))
    groups = signin_sheets.sign_in_groups(sessions, roster)
    data = await page.svc.workers.run(signin_sheets.sign_in_sheets_pdf, page.course, groups)
    return _pdf(data, "danh-sach-ky.pdf")


async def _live(page: UnitPage) -> dict:
    return await page.svc.db.read(live_view.read_unit_live, page.course, page.unit.id, page.now)


@unit_page
async def unit_live(page: UnitPage) -> Response:
    return page.render("units/link/live.html", {"live": await _live(page), "live_url": f"{page.base}/live.json"})


@unit_page
async def unit_live_json(page: UnitPage) -> Response:
    return JSONResponse(await _live(page), headers=PRIVATE)


@unit_page
async def unit_results_pdf(page: UnitPage) -> Response:
    if page.summons.results_published_at is None:
        raise Problem(404, "results_not_published", "The organisers have not published the result notice yet.")
    data = await page.svc.db.read(results.read_results, page.course.id, page.now, page.unit.id)
    pdf = await page.svc.workers.run(results.results_pdf, data)
    return _pdf(pdf, "thong-bao-ket-qua.pdf")


routes = [
    Route("/u/{secret}/badges", unit_badges, name="unit_badges"),
    Route("/u/{secret}/badges.pdf", unit_badges_pdf, name="unit_badges_pdf"),
    Route("/u/{secret}/sign-in-sheet.pdf", unit_sign_in_sheet, name="unit_sign_in_sheet"),
    Route("/u/{secret}/live", unit_live, name="unit_live"),
    Route("/u/{secret}/live.json", unit_live_json, name="unit_live_json"),
    Route("/u/{secret}/results.pdf", unit_results_pdf, name="unit_results_pdf"),
    Route("/u/{secret}", unit_home, name="unit_home"),
    Route("/u/{secret}/nominees", unit_add, methods=["POST"], name="unit_add"),
    Route("/u/{secret}/nominees/{nominee_id:int}", unit_nominee, methods=["POST"], name="unit_nominee"),
    Route("/u/{secret}/nominees/{nominee_id:int}/substitute", unit_substitute, methods=["POST"],
          name="unit_substitute"),
    Route("/u/{secret}/confirm", unit_confirm, methods=["POST"], name="unit_confirm"),
]
