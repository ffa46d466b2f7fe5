"""People across courses (organisers of a body's courses): the list, a person's record and its exports,
proposals to confirm or reject, merges and splits, erasure on request."""

from __future__ import annotations

import json

from starlette.responses import Response
from starlette.routing import Route

from ..errors import Problem
from ..records import merging, record
from ..records.merging import Actor
from ..store import bodies, persons
from ..text import whole_number
from .organiser_base import Page, organiser_page


async def _body(page: Page) -> bodies.Body:
    """The path's body, if this organiser organises one of its courses (administrators: any)."""
    body_id = page.param("body_id")
    body = await page.svc.db.read(bodies.get_body, body_id)
    if body is None:
        raise Problem(404, "body_not_found", "There is no such organising body.")
    if not page.organiser.is_admin and not await page.svc.db.read(bodies.is_body_organiser, body_id, page.organiser.id):
        raise Problem(403, "not_your_body", "You organise no course of this organising body.")
    return body


def _actor(page: Page) -> Actor:
    return Actor(page.organiser.id, page.now)


def _text(page: Page, name: str, limit: int = 500) -> str:
    assert page.form is not None
    value = page.form.get(name, "")
    return value[:limit] if isinstance(value, str) else ""


async def _record(page: Page, body: bodies.Body) -> record.Record:
    found = await page.svc.db.read(record.read_record, page.param("person_id"), page.now)
    if found is None or found.person.body_id != body.id:
        raise Problem(404, "person_not_found", "There is no such person in this organising body's records.")
    return found


PEOPLE_PER_PAGE = 100


@organiser_page
async def people_index(page: Page) -> Response:
    body = await _body(page)
    query = page.request.query_params.get("q", "")[:100]
    total = await page.svc.db.read(persons.count_people, body.id, query)
    pages = max(1, -(-total // PEOPLE_PER_PAGE))
    # ?page=N: past the last page shows the last; anything but a whole number, the first.
    number = min(max(whole_number(page.request.query_params.get("page", "1")) or 1, 1), pages)
    found = await page.svc.db.read(persons.search_people, body.id, query, PEOPLE_PER_PAGE,
                                   (number - 1) * PEOPLE_PER_PAGE)
    proposals = await page.svc.db.read(persons.count_open_proposals, body.id)
    return page.render("records/people.html", {
        "body": body, "people": found, "q": query, "proposals": proposals, "total": total, "page": number,
        "pages": pages, "first": (number - 1) * PEOPLE_PER_PAGE + 1 if found else 0,
        "last": (number - 1) * PEOPLE_PER_PAGE + len(found)})


@organiser_page
async def person_record(page: Page) -> Response:
    body = await _body(page)
    found = await _record(page, body)
    if found.person.id != page.param("person_id"):  # a merged record: its person's page
        return page.redirect(f"/bodies/{body.id}/people/{found.person.id}")
    return page.render("records/record.html", {
        "body": body, "record": found, "done": page.request.query_params.get("done", "")[:40]})


@organiser_page(redirect=False)
async def record_xlsx(page: Page) -> Response:
    from ..documents import records_documents

    found = await _record(page, await _body(page))
    data = await page.svc.workers.run(records_documents.record_workbook, found)
    return Response(data, media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                    headers={"Content-Disposition": f'attachment; filename="record-{found.person.id}.xlsx"',
                             "Cache-Control": "no-store"})


@organiser_page(redirect=False)
async def record_pdf(page: Page) -> Response:
    from ..documents import records_documents

    found = await _record(page, await _body(page))
    data = await page.svc.workers.run(records_documents.record_pdf, found)
    return Response(data, media_type="application/pdf",
                    headers={"Content-Disposition": f'attachment; filename="record-{found.person.id}.pdf"',
                             "Cache-Control": "no-store"})


@organiser_page(redirect=False)
async def record_json(page: Page) -> Response:
    """Everything kept about the person, on their request (Decree 13/2023): audited."""
    from ..documents import records_documents

    body = await _body(page)
    found = await _record(page, body)
    await page.svc.db.write(merging.audit_export_tx, _actor(page), found.person.id, "json")
    return Response(json.dumps(records_documents.record_data(found), ensure_ascii=False, indent=1),
                    media_type="application/json",
                    headers={"Content-Disposition": f'attachment; filename="person-{found.person.id}.json"',
                             "Cache-Control": "no-store"})


@organiser_page
async def merge(page: Page) -> Response:
    body = await _body(page)
    other = whole_number(_text(page, "other", 20))
    if other is None:
        raise Problem(422, "other_required", "Give the number of the record to merge into this one.")
    await page.svc.db.write(merging.merge_tx, _actor(page), body.id, page.param("person_id"), other,
                            _text(page, "reason"))
    return page.redirect(f"/bodies/{body.id}/people/{page.param('person_id')}?done=merged")


@organiser_page
async def split(page: Page) -> Response:
    body = await _body(page)
    person_id = await page.svc.db.write(merging.split_tx, _actor(page), body.id, page.param("merge_id"),
                                        _text(page, "reason"))
    return page.redirect(f"/bodies/{body.id}/people/{person_id}?done=split")


@organiser_page
async def erase(page: Page) -> Response:
    body = await _body(page)
    await page.svc.db.write(merging.erase_tx, _actor(page), body.id, page.param("person_id"), _text(page, "reason"))
    return page.redirect(f"/bodies/{body.id}/people/{page.param('person_id')}?done=erased")


@organiser_page
async def proposals_page(page: Page) -> Response:
    body = await _body(page)
    found = await page.svc.db.read(persons.list_open_proposals, body.id)
    total = await page.svc.db.read(persons.count_open_proposals, body.id)
    return page.render("records/proposals.html", {
        "body": body, "proposals": found, "total": total, "done": page.request.query_params.get("done", "")[:40]})


@organiser_page
async def confirm_proposal(page: Page) -> Response:
    body = await _body(page)
    await page.svc.db.write(merging.confirm_tx, _actor(page), body.id, page.param("proposal_id"),
                            _text(page, "reason"))
    return page.redirect(f"/bodies/{body.id}/proposals?done=confirmed")


@organiser_page
async def reject_proposal(page: Page) -> Response:
    body = await _body(page)
    await page.svc.db.write(merging.reject_tx, _actor(page), body.id, page.param("proposal_id"))
    return page.redirect(f"/bodies/{body.id}/proposals?done=rejected")


routes = [
    Route("/bodies/{body_id:int}/people", people_index, name="people_index"),
    Route("/bodies/{body_id:int}/people/{person_id:int}", person_record, name="person_record"),
    Route("/bodies/{body_id:int}/people/{person_id:int}/record.xlsx", record_xlsx, name="record_xlsx"),
    Route("/bodies/{body_id:int}/people/{person_id:int}/record.pdf", record_pdf, name="record_pdf"),
    Route("/bodies/{body_id:int}/people/{person_id:int}/data.json", record_json, name="record_json"),
    Route("/bodies/{body_id:int}/people/{person_id:int}/merge", merge, methods=["POST"], name="merge"),
    Route("/bodies/{body_id:int}/people/{person_id:int}/erase", erase, methods=["POST"], name="erase"),
    Route("/bodies/{body_id:int}/merges/{merge_id:int}/split", split, methods=["POST"], name="split"),
    Route("/bodies/{body_id:int}/proposals", proposals_page, name="proposals_page"),
    Route("/bodies/{body_id:int}/proposals/{proposal_id:int}/confirm", confirm_proposal, methods=["POST"],
          name="confirm_proposal"),
    Route("/bodies/{body_id:int}/proposals/{proposal_id:int}/reject", reject_proposal, methods=["POST"],
          name="reject_proposal"),
]


@organiser_page
async def retention_page(page: Page) -> Response:
    from ..records import retention

    body = await _body(page)
    return page.render("records/retention.html", {
        "body": body, "months": await page.svc.db.read(retention.get_retention, body.id),
        "done": whole_number(page.request.query_params.get("cleared", ""))})


@organiser_page
async def retention_save(page: Page) -> Response:
    from zoneinfo import ZoneInfo

    from ..records import retention

    body = await _body(page)
    typed = _text(page, "months", 10).strip()
    months = whole_number(typed)
    if typed and months is None:
        raise Problem(422, "retention_out_of_range", "Give the number of months as a whole number from 1 to 240, or "
                                                     "leave it empty to keep contact details until erased by hand.")
    today = page.now.astimezone(ZoneInfo("Asia/Ho_Chi_Minh")).date()
    cleared = await page.svc.db.write(retention.set_retention_tx, _actor(page), body.id, months, today)
    return page.redirect(f"/bodies/{body.id}/retention?cleared={cleared}")


routes += [
    Route("/bodies/{body_id:int}/retention", retention_page, name="retention_page"),
    Route("/bodies/{body_id:int}/retention", retention_save, methods=["POST"], name="retention_save"),
]


@organiser_page
async def course_records(page: Page) -> Response:
    """From a course to the records of its organising body."""
    body = await page.svc.db.read(bodies.get_course_body, page.course_id)
    if body is None:
        raise Problem(404, "body_not_found", "There is no such organising body.")
    return page.redirect(f"/bodies/{body.id}/people")


@organiser_page
async def enrolment_record(page: Page) -> Response:
    """From a person on a course to their record across the body's courses."""
    from ..store import records as record_store

    found = await page.svc.db.read(record_store.get_enrolment_person, page.course_id, page.param("enrolment_id"))
    if found is None:
        raise Problem(404, "participant_not_found", "No such participant on this course.")
    body_id, person_id = found
    return page.redirect(f"/bodies/{body_id}/people/{person_id}")


routes += [
    Route("/courses/{course_id:int}/records", course_records, name="course_records"),
    Route("/courses/{course_id:int}/people/{enrolment_id:int}/record", enrolment_record, name="enrolment_record"),
]


@organiser_page
async def detach(page: Page) -> Response:
    body = await _body(page)
    enrolment_id = whole_number(_text(page, "enrolment", 20))
    if enrolment_id is None:
        raise Problem(404, "participant_not_found", "No such participant on this course.")
    new_id = await page.svc.db.write(merging.detach_tx, _actor(page), body.id, page.param("person_id"), enrolment_id,
                                     _text(page, "reason"))
    return page.redirect(f"/bodies/{body.id}/people/{new_id}?done=detached")


routes.append(Route("/bodies/{body_id:int}/people/{person_id:int}/detach", detach, methods=["POST"], name="detach"))
