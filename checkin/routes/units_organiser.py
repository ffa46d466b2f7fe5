"""Organiser pages of the units wing: the course's summons and nominations board, one unit's page (its link, the
Zalo message, sending, its leader, its live view), deciding substitutions, the result notice. The directory's
pages: units_directory.py."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .. import jobs
from ..course import mailing
from ..course.mailing import MailRun
from ..errors import Problem
from ..forms import Form
from ..store import scans, unit_directory, units
from ..store.audit import enrolment_subject, list_audit
from ..text import whole_number
from ..units import board, links, messages, nominations, results
from ..units import live as unit_live
from .organiser_base import Page, organiser_page
from .units_directory import body_id_of as _body_id

MAX_QUOTA = 500


# --- the summons and the board --------------------------------------------------------------------------------


@organiser_page
async def units_board(page: Page) -> Response:
    db, body_id = page.svc.db, await _body_id(page)
    the_board = await db.read(board.read_board, page.course_id)
    entries = await db.read(unit_directory.list_member_units, body_id)
    invited = {r.unit.member_unit_id: r.unit for r in the_board.rows}
    zone = ZoneInfo(page.course.time_zone)
    deadline = the_board.summons.deadline.astimezone(zone) if the_board.summons.deadline else None
    return page.render("units/board.html", {
        "board": the_board, "entries": entries, "invited": invited, "deadline": deadline,
        "deadline_passed": board.deadline_passed(the_board.summons, page.now),
        "done": page.request.query_params.get("done", ""), "smtp": mailing.is_configured(page.svc.settings),
        "errors": {}, "run": await mailing.latest_run(db, page.course_id, MAIL_RUN, page.svc.now()),
    })


MAIL_RUN = "unit_mail"  # the units' links or reminders, e-mailed as a job the board follows


@organiser_page(max_fields=3000)
async def units_summons(page: Page) -> Response:
    body_id = await _body_id(page)
    form = Form(page.form)
    deadline = None
    if form.raw("deadline_date", 20):  # no date: no deadline (the time field always holds one)
        d, t = form.day("deadline_date"), form.clock_time("deadline_time")
        if d is not None and t is not None:
            deadline = datetime.combine(d, t, ZoneInfo(page.course.time_zone))
    if not form.ok:
        raise Problem(422, "invalid_deadline", "Give the deadline as a date and a time, such as 2026-11-20 17:00.")
    everyone = page.form.get("invite_all") == "1"
    chosen = {whole_number(v) for v in page.form.getlist("invite")}
    plans: dict[int, tuple[int, str]] = {}
    for key in page.form.keys():
        if not key.startswith("quota_"):
            continue
        entry_id = whole_number(key[6:])
        quota = whole_number(str(page.form.get(key, "")).strip() or "0")
        if entry_id is None or quota is None or quota > MAX_QUOTA:
            raise Problem(422, "invalid_quota", "A quota is a whole number from 0 to 500.")
        plans[entry_id] = (quota, form.text(f"positions_{entry_id}", max_len=200))
    if not form.ok:
        raise Problem(422, "invalid_positions", "The positions wanted are too long, or start with =, +, - or @.")

    def save(conn):
        units.upsert_summons(conn, page.course_id, deadline, page.form.get("group_checkin") == "1", page.now)
        entries = {e.id: e for e in unit_directory.list_member_units(conn, body_id)}
        if set(plans) - set(entries) or chosen - {None} - set(entries):
            raise Problem(422, "member_unit_not_found", "Choose units of this body's directory.")
        current = {s.member_unit_id: s for s in units.list_summoned_units(conn, page.course_id)}
        for entry_id, entry in entries.items():
            was = current.get(entry_id)
            quota, positions = plans.get(entry_id, (was.quota, was.positions) if was else (0, ""))
            if ((everyone and entry.active) or entry_id in chosen) and quota > 0:
                if was is None or (was.quota, was.positions) != (quota, positions):
                    summoned_id = units.summon_unit(conn, page.course_id, entry_id, quota, positions, page.now)
                    scans.insert_audit(conn, page.course_id, "unit_summoned", page.now, organiser_id=page.organiser.id,
                                       subject=nominations.unit_subject(summoned_id), detail=f"{entry.name}: {quota}")
            elif was is not None:
                units.withdraw_unit(conn, was.id, page.now)
                scans.insert_audit(conn, page.course_id, "unit_withdrawn", page.now, organiser_id=page.organiser.id,
                                   subject=nominations.unit_subject(was.id), detail=entry.name)

    await page.svc.db.write(save)
    return page.redirect(f"/courses/{page.course_id}/units?done=summons_saved")


async def _summoned(page: Page) -> units.SummonedUnit:
    summoned = await page.svc.db.read(units.get_summoned_unit, page.course_id, page.param("summoned_id"))
    if summoned is None:
        raise Problem(404, "unit_not_invited", "This unit is not invited to this course.")
    return summoned


def _secret(page: Page, summoned_id: int):
    return lambda conn: links.live_secret(conn, page.svc.settings.secret_key, summoned_id, page.now)


@organiser_page
async def unit_detail(page: Page) -> Response:
    db, summoned = page.svc.db, await _summoned(page)
    secret = await db.write(_secret(page, summoned.id))
    link = links.link_url(page.svc.settings.public_url, secret)
    summons = await db.read(units.get_summons, page.course_id)
    nominees = await db.read(units.list_nominees, summoned.id)
    subjects = [nominations.unit_subject(summoned.id), *(f"nominee {n.id}" for n in nominees),
                *(enrolment_subject(n.enrolment_id) for n in nominees if n.enrolment_id)]
    return page.render("units/unit.html", {
        "unit": summoned, "link": link, "nominees": nominees,
        "zalo": messages.summons_text(page.course, summons, summoned, link),
        "substitutions": await db.read(units.list_substitutions, page.course_id, summoned.id),
        "mailings": await db.read(units.list_mailings, summoned.id),
        "audit": await db.read(list_audit, page.course_id, subjects),
        "done": page.request.query_params.get("done", ""),
    })


@organiser_page
async def unit_live_page(page: Page) -> Response:
    """The unit's live view, as its secretary sees it (linked from the board and the unit x session table)."""
    summoned = await _summoned(page)
    live = await page.svc.db.read(unit_live.read_unit_live, page.course, summoned.id, page.now)
    return page.render("units/live.html", {"unit": summoned, "live": live,
                                           "live_url": f"/courses/{page.course_id}/units/{summoned.id}/live.json"})


@organiser_page(redirect=False)
async def unit_live_json(page: Page) -> Response:
    summoned = await _summoned(page)
    return JSONResponse(await page.svc.db.read(unit_live.read_unit_live, page.course, summoned.id, page.now))


@organiser_page
async def unit_link_revoke(page: Page) -> Response:
    summoned = await _summoned(page)

    def renew(conn):
        links.make_link_tx(conn, page.svc.settings.secret_key, summoned.id, page.now)
        scans.insert_audit(conn, page.course_id, "unit_link_renewed", page.now, organiser_id=page.organiser.id,
                           subject=nominations.unit_subject(summoned.id), detail=summoned.name)

    await page.svc.db.write(renew)
    return page.redirect(f"/courses/{page.course_id}/units/{summoned.id}?done=link_renewed")


@organiser_page
async def unit_zalo(page: Page) -> Response:
    """The page's Copy or Share button was used: recorded as the unit's link sent for Zalo."""
    summoned = await _summoned(page)
    how = str(page.form.get("how", "copy"))[:10]
    await page.svc.db.write(units.insert_mailing, summoned.id, "zalo", summoned.contact_phone, "copied",
                            "shared" if how == "share" else "", page.organiser.id, page.now)
    return Response(status_code=204)


@organiser_page
async def unit_leader(page: Page) -> Response:
    """The cadre whose badge checks the unit in at the door (group check-in)."""
    summoned = await _summoned(page)
    nominee_id = whole_number(str(page.form.get("nominee_id", "")))

    def choose(conn):
        nominee = units.get_nominee(conn, summoned.id, nominee_id) if nominee_id is not None else None
        if nominee is None or nominee.state != "enrolled":
            raise Problem(422, "nominee_not_found", "Choose a confirmed cadre of this unit.")
        units.set_leader(conn, summoned.id, nominee.id)
        scans.insert_audit(conn, page.course_id, "unit_leader_set", page.now, organiser_id=page.organiser.id,
                           subject=nominations.unit_subject(summoned.id), detail=nominee.full_name)

    await page.svc.db.write(choose)
    return page.redirect(f"/courses/{page.course_id}/units/{summoned.id}?done=leader_set")


@organiser_page
async def units_send(page: Page) -> Response:
    kind = str(page.form.get("kind", ""))
    if kind not in ("link", "reminder"):
        raise Problem(422, "bad_action", "Choose to send the links or a reminder.")
    if not mailing.is_configured(page.svc.settings):
        raise Problem(409, "smtp_not_configured", "Sending e-mail needs an SMTP server: set CHECKIN_SMTP_HOST and "
                                                  "CHECKIN_SMTP_SENDER.")
    db = page.svc.db
    the_board = await db.read(board.read_board, page.course_id)
    wanted = {whole_number(v) for v in page.form.getlist("unit")}
    rows = [r for r in the_board.rows if (not wanted - {None} or r.unit.id in wanted)]
    if kind == "reminder":
        rows = [r for r in rows if r.state != "confirmed"]
    else:
        rows = [r for r in rows if wanted - {None} or r.mailing is None or r.mailing.status == "failed"]
    targets = []
    for row in rows:
        secret = await db.write(_secret(page, row.unit.id))
        targets.append(messages.Target(row.unit, links.link_url(page.svc.settings.public_url, secret)))
    svc, course, summons, organiser_id = page.svc, page.course, the_board.summons, page.organiser.id

    async def work(progress: jobs.Progress) -> jobs.JobFile:
        run = MailRun(course.id, kind, len(targets))
        return await mailing.run_as_job(progress, run, messages.send_links(
            svc.db, svc.settings, course, summons, targets, kind, organiser_id, svc.clock, run),
            f"unit-mail-run-course-{course.id}.json")

    # One run per course at a time, whichever instance started it: a double click, two tabs.
    _job, started = await jobs.start(db, MAIL_RUN, page.course_id, organiser_id, svc.now, "sending", work,
                                     total=len(targets))
    if not started:
        raise Problem(409, "already_sending", "E-mails to the units are being sent for this course already. "
                                              "Wait for them to finish.")
    return page.redirect(f"/courses/{page.course_id}/units?done=sending#send-run")


@organiser_page
async def units_send_status(page: Page) -> Response:
    run = await mailing.latest_run(page.svc.db, page.course_id, MAIL_RUN, page.svc.now())
    return JSONResponse({"run": run.as_json() if run else None},
                        headers={"Cache-Control": "private, no-store"})


@organiser_page
async def substitution_decide(page: Page) -> Response:
    if await page.svc.db.read(units.get_substitution, page.course_id, page.param("substitution_id")) is None:
        raise Problem(404, "substitution_not_found", "There is no such substitution on this course.")
    action = page.form.get("action")
    if action not in ("approve", "refuse"):
        raise Problem(422, "bad_action", "Choose approve or refuse.")
    note = Form(page.form).text("note", max_len=300)
    await page.svc.db.write(nominations.decide_substitution_tx, page.course_id, page.param("substitution_id"),
                            action == "approve", note, page.organiser.id, page.now)
    return page.redirect(f"/courses/{page.course_id}/units?done=substitution_{action}d#substitutions")


@organiser_page(redirect=False)
async def units_results_pdf(page: Page) -> Response:
    data = await page.svc.db.read(results.read_results, page.course_id, page.now)
    pdf = await page.svc.workers.run(results.results_pdf, data)
    return Response(pdf, media_type="application/pdf",
                    headers={"Content-Disposition": 'attachment; filename="thong-bao-ket-qua.pdf"'})


@organiser_page
async def units_results_publish(page: Page) -> Response:
    publish = page.form.get("action") == "publish"

    def change(conn):
        units.set_results_published(conn, page.course_id, publish, page.now)
        scans.insert_audit(conn, page.course_id, "results_published" if publish else "results_withdrawn", page.now,
                           organiser_id=page.organiser.id, subject="units")

    await page.svc.db.write(change)
    return page.redirect(f"/courses/{page.course_id}/units?done={'published' if publish else 'unpublished'}")


routes = [
    Route("/courses/{course_id:int}/units/results.pdf", units_results_pdf, name="units_results_pdf"),
    Route("/courses/{course_id:int}/units/results", units_results_publish, methods=["POST"],
          name="units_results_publish"),
    Route("/courses/{course_id:int}/units", units_board, name="units_board"),
    Route("/courses/{course_id:int}/units/summons", units_summons, methods=["POST"], name="units_summons"),
    Route("/courses/{course_id:int}/units/send", units_send, methods=["POST"], name="units_send"),
    Route("/courses/{course_id:int}/units/send/status", units_send_status, name="units_send_status"),
    Route("/courses/{course_id:int}/units/substitutions/{substitution_id:int}", substitution_decide,
          methods=["POST"], name="substitution_decide"),
    Route("/courses/{course_id:int}/units/{summoned_id:int}", unit_detail, name="unit_detail"),
    Route("/courses/{course_id:int}/units/{summoned_id:int}/live", unit_live_page, name="unit_live_page"),
    Route("/courses/{course_id:int}/units/{summoned_id:int}/live.json", unit_live_json, name="unit_live_json"),
    Route("/courses/{course_id:int}/units/{summoned_id:int}/link", unit_link_revoke, methods=["POST"],
          name="unit_link_revoke"),
    Route("/courses/{course_id:int}/units/{summoned_id:int}/leader", unit_leader, methods=["POST"],
          name="unit_leader"),
    Route("/courses/{course_id:int}/units/{summoned_id:int}/zalo", unit_zalo, methods=["POST"], name="unit_zalo"),
]
