"""Organiser pages for emailing badge links: what would be sent, starting a run, its progress and
each person's result, and safe re-sending to those whose mail failed."""

from __future__ import annotations

import asyncio

from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ..course import mailing
from ..errors import Problem
from ..course.mailing import MailRun
from ..store import mailings, scans
from ..store.mailings import Recipient
from .organiser_base import Page, organiser_page

PRIVATE = {"Cache-Control": "private, no-store"}


def _runs(page: Page) -> dict[int, MailRun]:
    state = page.request.app.state
    if not hasattr(state, "badge_mail_runs"):
        state.badge_mail_runs = {}
    return state.badge_mail_runs


def _sample(page: Page) -> str:
    sample = Recipient(0, "Nguyễn Văn A", "", "nguyenvana@example.org", "MA-THE-RIENG")
    return mailing.badge_message(page.svc.settings, page.course, sample).get_payload(decode=True).decode("utf-8")


@organiser_page
async def send_page(page: Page) -> Response:
    db = page.svc.db
    return page.render("badges/send.html", {
        "configured": mailing.is_configured(page.svc.settings), "settings": page.svc.settings,
        "counts": await db.read(mailings.count_results, page.course_id),
        "results": await db.read(mailings.list_results, page.course_id),
        "run": _runs(page).get(page.course_id), "sample": _sample(page),
    })


@organiser_page
async def start_sending(page: Page) -> Response:
    svc = page.svc
    if not mailing.is_configured(svc.settings):
        raise Problem(409, "smtp_not_configured",
                      "Sending email needs an SMTP server: set CHECKIN_SMTP_HOST and CHECKIN_SMTP_SENDER, then restart.")
    mode = str(page.form.get("mode") or "unsent")
    if mode not in mailings.MODES:
        raise Problem(400, "unknown_mode", "Choose whom to send to.", field="mode")
    if mode == "all" and page.form.get("confirm") != "yes":
        raise Problem(400, "confirm_resend", "Tick the box to confirm that people already sent get the mail again.",
                      field="confirm")
    runs = _runs(page)
    current = runs.get(page.course_id)
    if current is not None and current.state == "running":
        raise Problem(409, "already_sending", "Badge links are being sent for this course already. Wait for it to finish.")
    # Registered before the first await, so that a second POST (a double click) finds it running. Runs of other
    # processes are kept apart by mailings.mark_sending.
    run = runs[page.course_id] = MailRun(page.course_id, mode, 0)
    try:
        recipients = await svc.db.read(mailings.list_recipients, page.course_id, mode)
        run.total = len(recipients)
        now = page.now
        await svc.db.write(lambda conn: scans.insert_audit(
            conn, page.course_id, "badges_sent", now, organiser_id=page.organiser.id, subject="badge-links",
            detail=f"{mode}, {len(recipients)} recipients"))
    except BaseException as exc:
        run.state, run.error = "stopped", f"{type(exc).__name__}: {exc}"
        raise

    async def go() -> None:
        try:
            await mailing.send_badge_links(svc.db, svc.settings, page.course, run, recipients, svc.clock)
        except Exception as exc:  # shown on the progress view instead of vanishing with the task
            run.state, run.error = "stopped", f"{type(exc).__name__}: {exc}"

    run.task = asyncio.get_running_loop().create_task(go())
    return page.redirect(f"/courses/{page.course_id}/badges/send")


@organiser_page
async def sending_status(page: Page) -> Response:
    counts = await page.svc.db.read(mailings.count_results, page.course_id)
    run = _runs(page).get(page.course_id)
    return JSONResponse({
        "run": run.as_json() if run else None,
        "counts": {k: getattr(counts, k) for k in ("with_email", "without_email", "sent", "failed", "sending", "to_send")},
    }, headers=PRIVATE)


routes = [
    Route("/courses/{course_id:int}/badges/send", send_page, methods=["GET"], name="send_page"),
    Route("/courses/{course_id:int}/badges/send", start_sending, methods=["POST"], name="start_sending"),
    Route("/courses/{course_id:int}/badges/send/status", sending_status, name="sending_status"),
]
