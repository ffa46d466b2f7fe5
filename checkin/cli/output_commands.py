"""What goes out: badge links and sheets, e-mails, attendance exports, certificates."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from ..documents import exports
from ..clock import system_clock
from ..settings import Settings
from ..store import courses, people
from ..store.db import transaction
from .common import CommandError, choose_course, connect, write_out, progress_bar, say


def cmd_badges_export(args, settings: Settings) -> int:
    conn = connect(settings)
    course_id = choose_course(conn, args.course)
    write_out(args.out, exports.csv_text(exports.badge_link_rows(people.iter_badge_links(conn, course_id), settings.public_url)))
    return 0


def cmd_badges_pdf(args, settings: Settings) -> int:
    from ..documents.badges import LAYOUTS, badge_sheets_pdf
    from ..documents.printing import cards_for
    from ..store import logos

    if args.layout not in LAYOUTS:
        raise CommandError(f"unknown layout {args.layout!r}; choose one of {', '.join(LAYOUTS)}")
    conn = connect(settings)
    course_id = choose_course(conn, args.course)
    links = people.list_badge_links(conn, course_id, args.unit)
    if not links:
        raise CommandError(f"no active badge in unit {args.unit!r}" if args.unit else "the course has no active badge")
    logo = logos.get_logo(conn, course_id)
    cards = cards_for(courses.get_course(conn, course_id), links)
    pdf = badge_sheets_pdf(cards, args.layout, logo=logo.data if logo else None, progress=progress_bar)
    args.out.write_bytes(pdf)
    say(f"{len(cards)} badges ({args.layout}) written to {args.out}.")
    return 0


def cmd_badges_send(args, settings: Settings) -> int:
    import asyncio

    from ..course import mailing
    from ..store import mailings
    from ..store.db import open_database

    if not mailing.is_configured(settings):
        raise CommandError("set CHECKIN_SMTP_HOST and CHECKIN_SMTP_SENDER (and the user and password) first")
    conn = connect(settings)
    course_id = choose_course(conn, args.course)
    course = courses.get_course(conn, course_id)
    mode = "failed" if args.failed else "all" if args.all else "unsent"
    recipients = mailings.list_recipients(conn, course_id, mode)
    conn.close()

    async def run() -> mailing.MailRun:
        db = await open_database(settings.database)
        try:
            result = mailing.MailRun(course_id, mode, len(recipients))
            task = asyncio.create_task(
                mailing.send_badge_links(db, settings, course, result, recipients, system_clock))
            while not task.done():
                if result.done < result.total:
                    progress_bar(result.done, result.total, "emails")
                await asyncio.sleep(0.2)
            await task
            progress_bar(result.total, result.total, "emails")
            return result
        finally:
            await db.close()

    result = asyncio.run(run())
    say(f"Sent {result.sent}, failed {result.failed} of {result.total}." + (f" Stopped: {result.error}" if result.error else ""))
    return 0 if result.state == "done" and not result.failed else 1


def cmd_export(args, settings: Settings) -> int:
    from ..store import audit, reports

    conn = connect(settings)
    course_id = choose_course(conn, args.course)
    zone = ZoneInfo(courses.get_course(conn, course_id).time_zone)
    if args.format == "xlsx":
        from ..documents.exports_xlsx import attendance_workbook

        if args.out is None:
            raise CommandError("an xlsx workbook is a binary file: give --out FILE.xlsx")
        args.out.write_bytes(attendance_workbook(exports.load_report(conn, course_id, system_clock())))
        say(f"Written to {args.out}.")
    elif args.format == "csv":
        write_out(args.out, exports.csv_text(exports.attendance_rows(exports.load_report(conn, course_id, system_clock()))))
    elif args.format == "scan-log":
        write_out(args.out, exports.csv_text(exports.scan_log_rows(reports.list_scan_log(conn, course_id), zone)))
    else:
        write_out(args.out, exports.csv_text(exports.audit_rows(audit.list_audit_log(conn, course_id), zone)))
    return 0


def cmd_certificates(args, settings: Settings) -> int:
    from ..documents.certificates import certificates_pdf, issue_in_transactions
    from ..i18n import reset_language, set_language

    conn = connect(settings)
    course_id = choose_course(conn, args.course)
    # A few hundred certificates per transaction, so that a server using the same database keeps answering.
    issued = issue_in_transactions(conn, course_id, system_clock(), transaction=transaction)
    token = set_language(args.lang)
    try:
        args.out.write_bytes(certificates_pdf(issued, settings.public_url))
    finally:
        reset_language(token)
    say(f"{len(issued.certificates)} certificate(s) written to {args.out}"
        + (f"; {issued.revoked} withdrawn (no longer qualify)." if issued.revoked else "."))
    return 0
