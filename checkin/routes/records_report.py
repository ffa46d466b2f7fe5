"""Programmes (courses and requirements) and the term report (page with charts, xlsx, PDF, the people
behind each number), for the organisers of a body's courses."""

from __future__ import annotations

from datetime import date
from urllib.parse import urlencode

from starlette.responses import Response
from starlette.routing import Route

from ..errors import Problem
from ..i18n import gettext as _
from ..records import charts, programmes as programme_rules
from ..records.term_report import MEASURES, Scope, people_behind, read_term_report
from ..store import programmes
from ..text import whole_number
from .organiser_base import Page, organiser_page
from .records import _actor, _body, _text

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _ids(page: Page, name: str) -> list[int]:
    assert page.form is not None
    found = [whole_number(v) for v in page.form.getlist(name) if isinstance(v, str)]
    return [v for v in found if v is not None][:500]


@organiser_page
async def programmes_page(page: Page) -> Response:
    body = await _body(page)
    db = page.svc.db
    return page.render("records/programmes.html", {
        "body": body, "programmes": await db.read(programmes.list_programmes, body.id),
        "courses": await db.read(programmes.list_body_courses, body.id)})


@organiser_page
async def programme_create(page: Page) -> Response:
    body = await _body(page)
    programme_id = await page.svc.db.write(programme_rules.create_programme_tx, _actor(page), body.id,
                                           _text(page, "title", 200), _ids(page, "course"))
    return page.redirect(f"/bodies/{body.id}/programmes/{programme_id}")


async def _programme(page: Page, body) -> programmes.Programme:
    found = await page.svc.db.read(programmes.get_programme, page.param("programme_id"))
    if found is None or found.body_id != body.id:
        raise Problem(404, "programme_not_found", "There is no such programme in this organising body.")
    return found


@organiser_page
async def programme_page(page: Page) -> Response:
    body = await _body(page)
    found = await _programme(page, body)
    courses = await page.svc.db.read(programmes.list_body_courses, body.id)
    return page.render("records/programme.html", {
        "body": body, "programme": found, "courses": courses, "titles": {c.id: c.title for c in courses}})


@organiser_page
async def programme_courses(page: Page) -> Response:
    body = await _body(page)
    await page.svc.db.write(programme_rules.set_courses_tx, _actor(page), body.id, page.param("programme_id"),
                            _ids(page, "course"))
    return page.redirect(f"/bodies/{body.id}/programmes/{page.param('programme_id')}")


@organiser_page
async def requirement_add(page: Page) -> Response:
    body = await _body(page)
    positions = _text(page, "positions", 2000).replace(",", "\n").split("\n")
    minimum = whole_number(_text(page, "minimum", 10)) if _text(page, "minimum", 10).strip() else None
    if _text(page, "minimum", 10).strip() and minimum is None:
        raise Problem(422, "minimum_out_of_range",
                      "“At least N of these courses” needs N between 1 and the number of courses chosen.")
    await page.svc.db.write(programme_rules.add_requirement_tx, _actor(page), body.id, page.param("programme_id"),
                            _text(page, "label", 200), positions, minimum, _ids(page, "course"))
    return page.redirect(f"/bodies/{body.id}/programmes/{page.param('programme_id')}")


@organiser_page
async def requirement_delete(page: Page) -> Response:
    body = await _body(page)
    await page.svc.db.write(programme_rules.delete_requirement_tx, _actor(page), body.id,
                            page.param("programme_id"), page.param("requirement_id"))
    return page.redirect(f"/bodies/{body.id}/programmes/{page.param('programme_id')}")


def _date(value: str) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        raise Problem(422, "bad_date", "Give dates as YYYY-MM-DD.") from None


def _scope(page: Page, body_id: int) -> Scope:
    q = page.request.query_params
    programme_id = whole_number(q.get("programme", ""))
    return Scope(body_id, programme_id, None if programme_id else _date(q.get("from", "")[:10]),
                 None if programme_id else _date(q.get("to", "")[:10]), whole_number(q.get("unit", "")),
                 q.get("position", "")[:100].strip())


@organiser_page
async def report_page(page: Page) -> Response:
    body = await _body(page)
    q = page.request.query_params
    context = {"body": body, "programmes": await page.svc.db.read(programmes.list_programmes, body.id),
               "report": None, "q": q}
    if q.get("programme") or q.get("from") or q.get("to"):
        scope = _scope(page, body.id)
        report = await page.svc.db.read_aside(read_term_report, scope)
        context |= {"report": report, "query": urlencode(scope.query()), "measures": MEASURES,
                    "units_chart": charts.units_ranked(report, "certified", _("Units ranked by share certified")),
                    "courses_chart": charts.courses_over_time(report, _("Courses over time: nominated and attended"))}
    return page.render("records/report.html", context)


async def _report_file(page: Page, kind: str) -> Response:
    from ..documents import term_report_documents as docs

    body = await _body(page)
    scope = _scope(page, body.id)
    report = await page.svc.db.read_aside(read_term_report, scope)
    fn, media = (docs.report_workbook, XLSX) if kind == "xlsx" else (docs.report_pdf, "application/pdf")
    data = await page.svc.workers.run(fn, report)
    return Response(data, media_type=media, headers={
        "Content-Disposition": f'attachment; filename="term-report.{kind}"', "Cache-Control": "no-store"})


@organiser_page(redirect=False)
async def report_xlsx(page: Page) -> Response:
    return await _report_file(page, "xlsx")


@organiser_page(redirect=False)
async def report_pdf(page: Page) -> Response:
    return await _report_file(page, "pdf")


@organiser_page
async def report_people(page: Page) -> Response:
    body = await _body(page)
    q = page.request.query_params
    scope = _scope(page, body.id)
    measure = q.get("measure", "nominated")
    if measure not in MEASURES:
        raise Problem(422, "unknown_measure", "Choose nominated, attended or certified.")
    course_id = whole_number(q.get("course", ""))
    found = await page.svc.db.read_aside(people_behind, scope, measure, course_id)
    return page.render("records/report_people.html", {
        "body": body, "people": found, "measure": measure, "back": urlencode(scope.query())})


routes = [
    Route("/bodies/{body_id:int}/programmes", programmes_page, name="programmes_page"),
    Route("/bodies/{body_id:int}/programmes", programme_create, methods=["POST"], name="programme_create"),
    Route("/bodies/{body_id:int}/programmes/{programme_id:int}", programme_page, name="programme_page"),
    Route("/bodies/{body_id:int}/programmes/{programme_id:int}/courses", programme_courses, methods=["POST"],
          name="programme_courses"),
    Route("/bodies/{body_id:int}/programmes/{programme_id:int}/requirements", requirement_add, methods=["POST"],
          name="requirement_add"),
    Route("/bodies/{body_id:int}/programmes/{programme_id:int}/requirements/{requirement_id:int}/delete",
          requirement_delete, methods=["POST"], name="requirement_delete"),
    Route("/bodies/{body_id:int}/report", report_page, name="report_page"),
    Route("/bodies/{body_id:int}/report.xlsx", report_xlsx, name="report_xlsx"),
    Route("/bodies/{body_id:int}/report.pdf", report_pdf, name="report_pdf"),
    Route("/bodies/{body_id:int}/report/people", report_people, name="report_people"),
]
