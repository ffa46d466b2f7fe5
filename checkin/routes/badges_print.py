"""Organiser pages for printed badges: layout preview, logo, PDF sheets (direct, or as a job with
progress for large courses), and the mail-merge CSV of personal badge links."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from dataclasses import dataclass

from starlette.datastructures import UploadFile
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from .. import jobs
from ..documents import badges, exports
from ..bodies import upload_limit
from ..errors import Problem
from ..text import whole_number
from ..documents.printing import card_for, cards_for
from ..store import logos, participants, people, scans
from ..store.people import BadgeLink
from .organiser_base import Page, organiser_page

MAX_LOGO_BYTES = 1_000_000
MAX_SELECTED = 5000
# A PDF this size is made while the organiser waits; larger ones are better as a job with progress.
DIRECT_LIMIT = 200
PRIVATE = {"Cache-Control": "private, no-store"}


@dataclass(frozen=True, slots=True)
class Selection:
    layout: str
    unit: str | None
    enrolment_ids: tuple[int, ...] | None

    def describe(self) -> str:
        if self.unit:
            return f"unit {self.unit}"
        if self.enrolment_ids is not None:
            return f"{len(self.enrolment_ids)} selected"
        return "whole course"


def read_selection(values) -> Selection:
    """layout, scope (course | unit | people), unit, person=ID...: from a query string or a form."""
    layout = str(values.get("layout") or "a4-8")
    if layout not in badges.LAYOUTS:
        raise Problem(400, "unknown_layout", f"Choose one of the layouts: {', '.join(badges.LAYOUTS)}.", field="layout")
    scope = str(values.get("scope") or ("unit" if values.get("unit") else "people" if values.get("person") else "course"))
    if scope == "unit":
        unit = str(values.get("unit") or "").strip()[:300]
        if not unit:
            raise Problem(400, "unit_required", "Choose the unit whose badges to print.", field="unit")
        return Selection(layout, unit, None)
    if scope == "people":
        raw = values.getlist("person")
        ids = [whole_number(str(v)) for v in raw[:MAX_SELECTED + 1]]
        if len(ids) > MAX_SELECTED or None in ids:
            raise Problem(400, "bad_selection", "The selection of people is not valid. Choose them again.", field="person")
        if not ids:
            raise Problem(400, "nobody_selected", "Tick the people whose badges to print.", field="person")
        return Selection(layout, None, tuple(i for i in ids if i is not None))
    return Selection(layout, None, None)


async def _links(page: Page, selection: Selection) -> list[BadgeLink]:
    links = await page.svc.db.read(people.list_badge_links, page.course_id, selection.unit, selection.enrolment_ids)
    if not links:
        raise Problem(422, "no_badges", "No one with an active badge matches this choice.")
    return links


async def _logo(page: Page) -> bytes | None:
    logo = await page.svc.db.read(logos.get_logo, page.course_id)
    return logo.data if logo else None


async def _audit(page: Page, subject: str, detail: str = "") -> None:
    # Badge sheets and link lists carry the codes that let anyone check in as someone: record who took them.
    now = page.now
    await page.svc.db.write(lambda conn: scans.insert_audit(
        conn, page.course_id, "export", now, organiser_id=page.organiser.id, subject=subject, detail=detail))


def _filename(page: Page, layout: str) -> str:
    return f"badges-course-{page.course_id}-{layout}.pdf"


@organiser_page
async def badges_page(page: Page) -> Response:
    db = page.svc.db
    roster = await db.read(people.list_badge_links, page.course_id)
    logo = await db.read(logos.get_logo, page.course_id)
    return page.render("badges/print.html", {
        "layouts": badges.LAYOUTS, "units": await db.read(participants.list_units, page.course_id),
        "roster": roster, "logo": logo, "direct_limit": DIRECT_LIMIT,
        "done": page.request.query_params.get("done", ""),
    })


@organiser_page
async def badges_pdf(page: Page) -> Response:
    selection = read_selection(page.request.query_params)
    links = await _links(page, selection)
    cards, logo = cards_for(page.course, links), await _logo(page)
    pdf = await page.svc.workers.run(badges.badge_sheets_pdf, cards, selection.layout, logo=logo)
    await _audit(page, "badges.pdf", f"{selection.layout}, {selection.describe()}, {len(cards)} badges")
    return Response(pdf, media_type="application/pdf", headers={
        **PRIVATE, "Content-Disposition": f'attachment; filename="{_filename(page, selection.layout)}"'})


BADGE_PDF = "badges_pdf"


def _job_json(page: Page, job) -> dict:
    return jobs.as_json(job, page.svc.now(), f"/courses/{page.course_id}/badges/jobs/{job.id}", "/pdf")


@organiser_page
async def start_pdf_job(page: Page) -> Response:
    """Draw the badge sheets in a worker as a job kept in the database: any instance answers its progress and
    hands over its file; one at a time per course."""
    selection = read_selection(page.form)
    links = await _links(page, selection)
    cards, layout, logo = cards_for(page.course, links), selection.layout, await _logo(page)
    filename, workers = _filename(page, layout), page.svc.workers

    async def work(progress: jobs.Progress) -> jobs.JobFile:
        drawn = [0]
        follower = asyncio.create_task(progress.follow("drawing", lambda: drawn[0], len(cards)))
        try:
            pdf = await workers.run(badges.badge_sheets_pdf, cards, layout, logo=logo,
                                    progress=lambda done: drawn.__setitem__(0, done))
        finally:
            follower.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await follower
        await progress.report("saving", len(cards), len(cards), force=True)
        return jobs.JobFile(pdf, filename, "application/pdf")

    job, started = await jobs.start(page.svc.db, BADGE_PDF, page.course_id, page.organiser.id, page.svc.now,
                                    "drawing", work, total=len(cards))
    if not started:
        raise Problem(429, "too_many_jobs", "A badge PDF is already being made for this course. Wait for it, "
                                            "then make this one.")
    await _audit(page, "badges.pdf", f"{layout}, {selection.describe()}, {len(links)} badges")
    return JSONResponse(_job_json(page, job), status_code=202, headers=PRIVATE)


async def _job(page: Page):
    job = await jobs.get(page.svc.db, page.param("job_id"), page.course_id, page.organiser.id)
    if job.kind != BADGE_PDF:
        raise Problem(404, "job_not_found", "This job is not known (or no longer kept). Start it again.")
    return job


@organiser_page
async def pdf_job_status(page: Page) -> Response:
    return JSONResponse(_job_json(page, await _job(page)), headers=PRIVATE)


@organiser_page
async def pdf_job_download(page: Page) -> Response:
    job = await _job(page)
    parts = await jobs.read_file(page.svc.db, job)
    return StreamingResponse(parts, media_type=job.media_type, headers={
        **PRIVATE, "Content-Disposition": f'attachment; filename="{job.filename}"', "Content-Length": str(job.size)})


def _sample() -> BadgeLink:
    return BadgeLink(0, "Nguyễn Văn A", "Đoàn Thanh niên", "Bí thư", "", "", "SAMPLE-not-a-real-badge")


@organiser_page
async def badge_preview(page: Page) -> Response:
    layout = page.request.query_params.get("layout", "a4-8")
    if layout not in badges.LAYOUTS:
        raise Problem(400, "unknown_layout", f"Choose one of the layouts: {', '.join(badges.LAYOUTS)}.")
    # The longest name on the roster shows the worst case the layout has to fit.
    roster = await page.svc.db.read(people.list_badge_links, page.course_id)
    link = max(roster, key=lambda r: (len(r.full_name) + len(r.unit), -r.enrolment_id)) if roster else _sample()
    svc, course_id, card = page.svc, page.course_id, card_for(page.course, link)
    version = await svc.db.read(logos.get_logo_version, course_id)
    png = await svc.badge_images.badge_png(
        card, version, lambda: svc.db.read(logos.get_logo_data, course_id, version), layout=layout, dpi=150)
    return Response(png, media_type="image/png", headers=PRIVATE)


async def _kept_logo(page: Page, data: bytes) -> tuple[str, bytes]:
    """(content type, bytes) of the logo to keep: PNG or JPEG, at most 1 MB and 4000 px a side, scaled down to the
    largest size a badge prints; or a Problem. Decoded in a worker: a 4000 px image is 64 MB of pixels."""
    if not data:
        raise Problem(400, "logo_missing", "Choose an image file for the logo.", field="logo")
    if len(data) > MAX_LOGO_BYTES:
        raise Problem(413, "logo_too_large", "The logo must be at most 1 MB. Save it smaller and try again.", field="logo")
    try:
        return await page.svc.workers.run(badges.shrink_logo, data)
    except badges.LogoRefused as refused:
        if refused.code == "logo_too_big":
            raise Problem(400, "logo_too_big", "The logo must be at most 4000 pixels wide and high.",
                          field="logo") from None
        raise Problem(400, "logo_not_image", "The logo must be a PNG or JPEG image.", field="logo") from None


@organiser_page(upload=True)
async def upload_logo(page: Page) -> Response:
    upload = page.form.get("logo")
    data = await upload.read(MAX_LOGO_BYTES + 1) if isinstance(upload, UploadFile) else b""
    content_type, kept = await _kept_logo(page, data)
    now, version = page.now, secrets.token_urlsafe(12)
    await page.svc.db.write(lambda conn: logos.set_logo(conn, page.course_id, content_type, kept, now, version))
    return page.redirect(f"/courses/{page.course_id}/badges?done=logo_saved")


@organiser_page
async def delete_logo(page: Page) -> Response:
    await page.svc.db.write(logos.delete_logo, page.course_id)
    return page.redirect(f"/courses/{page.course_id}/badges?done=logo_removed")


@organiser_page
async def course_logo(page: Page) -> Response:
    logo = await page.svc.db.read(logos.get_logo, page.course_id)
    if logo is None:
        raise Problem(404, "no_logo", "This course has no logo.")
    return Response(logo.data, media_type=logo.content_type, headers=PRIVATE)


@organiser_page
async def badge_links_csv(page: Page) -> Response:
    links = await page.svc.db.read(people.list_badge_links, page.course_id)
    text = exports.csv_text(exports.badge_link_rows(links, page.svc.settings.public_url))
    await _audit(page, "badge-links.csv", f"{len(links)} links")
    return Response(text, media_type="text/csv; charset=utf-8", headers={
        **PRIVATE, "Content-Disposition": f'attachment; filename="badge-links-course-{page.course_id}.csv"'})


routes = [
    Route("/courses/{course_id:int}/badges", badges_page, name="badges_page"),
    Route("/courses/{course_id:int}/badges.pdf", badges_pdf, name="badges_pdf"),
    Route("/courses/{course_id:int}/badges/jobs", start_pdf_job, methods=["POST"], name="start_pdf_job"),
    Route("/courses/{course_id:int}/badges/jobs/{job_id:str}", pdf_job_status, name="pdf_job_status"),
    Route("/courses/{course_id:int}/badges/jobs/{job_id:str}/pdf", pdf_job_download, name="pdf_job_download"),
    Route("/courses/{course_id:int}/badges/preview.png", badge_preview, name="badge_preview"),
    Route("/courses/{course_id:int}/badges/logo", upload_logo, methods=["POST"], name="upload_logo",
          middleware=upload_limit()),
    Route("/courses/{course_id:int}/badges/logo", course_logo, methods=["GET"], name="course_logo"),
    Route("/courses/{course_id:int}/badges/logo/delete", delete_logo, methods=["POST"], name="delete_logo"),
    Route("/courses/{course_id:int}/badges/links.csv", badge_links_csv, name="badge_links_csv"),
]
