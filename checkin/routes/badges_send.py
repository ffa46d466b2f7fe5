"""Organiser pages for emailing badge links: what would be sent, starting a run, its progress and
each person's result, and safe re-sending to those whose mail failed."""

from __future__ import annotations

from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .. import jobs
from ..course import mailing
from ..errors import Problem
from ..course.mailing import MailRun
from ..store import mailings, scans
from ..store.mailings import Recipient
from .organiser_base import Page, organiser_page

PRIVATE = {"Cache-Control": "private, no-store"}


MAIL_RUN = "badge_mail"


async def _run(page: Page) -> mailing.RunView | None:
    return await mailing.latest_run(page.svc.db, page.course_id, MAIL_RUN, page.svc.now())


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
        "run": await _run(page), "sample": _sample(page),
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
    recipients = await svc.db.read(mailings.list_recipients, page.course_id, mode)
    course, settings, clock = page.course, svc.settings, svc.clock

    async def work(progress: jobs.Progress) -> jobs.JobFile:
        run = MailRun(course.id, mode, len(recipients))
        return await mailing.run_as_job(progress, run, mailing.send_badge_links(svc.db, settings, course, run,
                                                                                recipients, clock),
                                        f"badge-mail-run-course-{course.id}.json")

    # One run per course at a time, whichever instance started it (a double click, two tabs): the job says so.
    # Runs of other processes (the command line) are kept apart per person by mailings.mark_sending.
    _job, started = await jobs.start(svc.db, MAIL_RUN, page.course_id, page.organiser.id, svc.now, "sending", work,
                                     total=len(recipients))
    if not started:
        raise Problem(409, "already_sending", "Badge links are being sent for this course already. Wait for it to finish.")
    now = page.now
    await svc.db.write(lambda conn: scans.insert_audit(
        conn, page.course_id, "badges_sent", now, organiser_id=page.organiser.id, subject="badge-links",
        detail=f"{mode}, {len(recipients)} recipients"))
    return page.redirect(f"/courses/{page.course_id}/badges/send")


@organiser_page
async def sending_status(page: Page) -> Response:
    counts = await page.svc.db.read(mailings.count_results, page.course_id)
    run = await _run(page)
    return JSONResponse({
        "run": run.as_json() if run else None,
        "counts": {k: getattr(counts, k) for k in ("with_email", "without_email", "sent", "failed", "sending", "to_send")},
    }, headers=PRIVATE)


routes = [
    Route("/courses/{course_id:int}/badges/send", send_page, methods=["GET"], name="send_page"),
    Route("/courses/{course_id:int}/badges/send", start_sending, methods=["POST"], name="start_sending"),
    Route("/courses/{course_id:int}/badges/send/status", sending_status, name="sending_status"),
]
