"""The `checkin` command: serve, seed the demo, import rosters, pair devices, export.

Output meant for scripts (tokens, CSV, ids) goes to stdout; messages go to stderr.
"""

from __future__ import annotations

import argparse
import getpass
import secrets
import sqlite3
import sys
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from . import exports
from .clock import system_clock
from .pairing import default_device_expiry
from .settings import Settings, SettingsError
from .store import courses, devices, organisers, people
from .store.db import open_sync, transaction


def say(message: str) -> None:
    print(message, file=sys.stderr)


class CommandError(Exception):
    """A command cannot go on; the message says what to do instead."""


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return 2
    try:
        settings = Settings.from_environ(db=args.db, data_dir=getattr(args, "data_dir", None))
        return args.func(args, settings) or 0
    except (CommandError, SettingsError) as exc:
        say(f"checkin: {exc}")
        return 2


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--db", type=Path, help="SQLite database file (default: $CHECKIN_DB or data/checkin.sqlite3)")
    with_course = argparse.ArgumentParser(add_help=False, parents=[common])
    with_course.add_argument("--course", type=int, help="course id (needed when the database holds several courses)")

    parser = argparse.ArgumentParser(prog="checkin", description="Check-in and attendance for one-day training courses.")
    sub = parser.add_subparsers(title="commands", metavar="COMMAND")

    p = sub.add_parser("serve", parents=[common], help="serve the web app and API")
    p.add_argument("--host", help="address to listen on (default 127.0.0.1; 0.0.0.0 for phones on the LAN)")
    p.add_argument("--port", type=int, help="port (default 8000)")
    p.add_argument("--data-dir", type=Path, help="folder for the database, secret key and certificates")
    p.add_argument("--https", action="store_true", default=None, help="serve TLS (phones need HTTPS for the camera)")
    p.add_argument("--cert", type=Path, help="TLS certificate (PEM)")
    p.add_argument("--key", type=Path, help="TLS private key (PEM)")
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("demo", parents=[common], help="create the demo course, held today around the current time")
    p.add_argument("--participants", type=int, default=80, help="roster size (default 80; scale up for load tests)")
    p.add_argument("--reset", action="store_true", help="delete the database file first")
    p.add_argument("--password", help="demo organiser's password (default: generated and printed)")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("import", parents=[with_course], help="import a roster (.xlsx or .csv): all rows or none")
    p.add_argument("roster", type=Path, help="the roster file")
    p.add_argument("--dry-run", action="store_true", help="check the file and report, write nothing")
    p.set_defaults(func=cmd_import)

    p = sub.add_parser("device", help="usher devices")
    dsub = p.add_subparsers(title="device commands", metavar="ACTION")
    d = dsub.add_parser("add", parents=[with_course], help="pair a device: prints its token and pairing URL")
    d.add_argument("--label", default="", help="a name for the phone, e.g. 'Cổng A – Lan'")
    d.add_argument("--hours", type=float, help="valid for this many hours (default: to the end of the course day)")
    d.set_defaults(func=cmd_device_add)
    d = dsub.add_parser("list", parents=[with_course], help="list paired devices")
    d.set_defaults(func=cmd_device_list)
    d = dsub.add_parser("revoke", parents=[common], help="revoke a device")
    d.add_argument("device_id", type=int)
    d.set_defaults(func=cmd_device_revoke)

    p = sub.add_parser("badges", help="badges")
    bsub = p.add_subparsers(title="badge commands", metavar="ACTION")
    b = bsub.add_parser("export", parents=[with_course], help="mail-merge CSV: name, unit, phone, email, badge link, code")
    b.add_argument("--out", type=Path, help="write to this file instead of stdout")
    b.set_defaults(func=cmd_badges_export)
    b = bsub.add_parser("pdf", parents=[with_course], help="printable badge sheets (PDF), sorted by unit then name")
    b.add_argument("--out", type=Path, required=True, help="the PDF file to write")
    b.add_argument("--layout", default="a4-8", help="a4-8 (default), a4-4, a6 or cr80")
    b.add_argument("--unit", help="only this unit (case, spaces and diacritics ignored)")
    b.set_defaults(func=cmd_badges_pdf)
    b = bsub.add_parser("send", parents=[with_course], help="email each participant their badge link (SMTP settings)")
    how = b.add_mutually_exclusive_group()
    how.add_argument("--failed", action="store_true", help="only those whose last mail failed")
    how.add_argument("--all", action="store_true", help="everyone with an address, even those already sent")
    b.set_defaults(func=cmd_badges_send)

    p = sub.add_parser("export", parents=[with_course], help="export attendance, the scan log or the audit trail")
    p.add_argument("--format", choices=["xlsx", "csv", "scan-log", "audit"], default="csv",
                   help="xlsx: attendance workbook; csv: attendance rows (UTF-8 with BOM, opens in Excel); "
                        "scan-log: every scan attempt (CSV); audit: changes by hand (CSV)")
    p.add_argument("--out", type=Path, help="write to this file instead of stdout (needed for xlsx)")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("certificates", parents=[with_course],
                       help="issue certificates to everyone who qualifies and write them as one PDF")
    p.add_argument("--out", type=Path, required=True, help="the PDF file to write")
    p.set_defaults(func=cmd_certificates)

    p = sub.add_parser("user", help="organiser accounts")
    usub = p.add_subparsers(title="user commands", metavar="ACTION")
    u = usub.add_parser("add", parents=[common], help="create an organiser (password asked, or read from stdin)")
    u.add_argument("username")
    u.add_argument("--name", help="display name")
    u.add_argument("--admin", action="store_true", help="may see and change every course")
    u.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    u.set_defaults(func=cmd_user_add)
    u = usub.add_parser("password", parents=[common], help="set a new password for an organiser who forgot theirs")
    u.add_argument("username")
    u.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    u.set_defaults(func=cmd_user_password)
    u = usub.add_parser("list", parents=[common], help="list organiser accounts and the courses they organise")
    u.set_defaults(func=cmd_user_list)

    p = sub.add_parser("backup", parents=[common], help="a consistent copy of the database, safe while serving")
    p.add_argument("out", type=Path, help="the backup file to write")
    p.set_defaults(func=cmd_backup)

    p = sub.add_parser("courses", parents=[common], help="list courses with their ids")
    p.set_defaults(func=cmd_courses)
    return parser


def _connect(settings: Settings):
    return open_sync(settings.db_path)


def _course_id(conn, requested: int | None) -> int:
    found = courses.list_courses(conn)
    if requested is not None:
        if not any(c.id == requested for c in found):
            raise CommandError(f"there is no course {requested}; `checkin courses` lists them")
        return requested
    if not found:
        raise CommandError("the database has no course yet; create one (checkin demo) first")
    if len(found) > 1:
        listing = ", ".join(f"{c.id} ({c.title[:40]})" for c in found[:10])
        raise CommandError(f"the database holds several courses; choose one with --course: {listing}")
    return found[0].id


def cmd_serve(args, settings: Settings) -> int:
    import os

    import uvicorn

    from .app import create_app

    host = args.host
    if args.https and host is None and not os.environ.get("CHECKIN_HOST"):
        host = "0.0.0.0"  # HTTPS is for the phones on the venue network: listen beyond this laptop
    settings = Settings.from_environ(
        db=args.db, data_dir=args.data_dir, host=host, port=args.port, https=args.https,
        tls_cert=args.cert, tls_key=args.key,
    )
    ssl = {}
    if settings.https:
        from . import tls

        cert, key = tls.ensure_certificate(settings)
        ssl = {"ssl_certfile": str(cert), "ssl_keyfile": str(key)}
        if not settings.tls_cert:
            say(f"checkin: HTTPS with the local CA in {tls.local_ca(settings).folder}")
            for address in tls.phone_addresses():
                shown = f"[{address}]" if ":" in address else address
                say(f"  phones: https://{shown}:{settings.port}/ca  (install the CA once, then /usher)")
    say(f"checkin: serving {settings.db_path} at {settings.public_url}")
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, access_log=settings.access_log,
                log_level="info", **ssl)
    return 0


def cmd_demo(args, settings: Settings) -> int:
    from .demo import create_demo

    if args.participants < 1 or args.participants > 200_000:
        raise CommandError("--participants must be between 1 and 200000")
    path = settings.db_path
    if args.reset:
        for suffix in ("", "-wal", "-shm"):
            Path(str(path) + suffix).unlink(missing_ok=True)
    conn = _connect(settings)
    now = system_clock()
    password = args.password or secrets.token_urlsafe(9)
    with transaction(conn):
        organiser = organisers.get_organiser_by_username(conn, "demo")
        if organiser is None:
            organiser_id = organisers.insert_organiser(conn, "demo", "Ban Tổ chức (demo)", password, now, is_admin=True)
        else:
            organiser_id = organiser.id
            organisers.set_password(conn, organiser_id, password)
        demo = create_demo(conn, now, settings.zone, args.participants, organiser_id=organiser_id)
    base = settings.public_url
    print(demo.course_id)
    say(f"Demo course {demo.course_id} created in {path} with {demo.participants} participants. Open:")
    say(f"  Organiser sign-in:   {base}/login   (user: demo   password: {password})")
    say(f"  Course workspace:    {base}/courses/{demo.course_id}")
    say(f"  Big-screen view:     {base}/courses/{demo.course_id}/live")
    say(f"  Usher's scanner:     {base}/usher/pair#t={demo.device_token}")
    say(f"  A cadre's badge:     {base}/b/{demo.sample_badge}   (not yet checked in: scan it)")
    say(f"  API device token:    {demo.device_token}")
    return 0


def cmd_import(args, settings: Settings) -> int:
    from .importing import apply_roster
    from .roster import RosterError, parse_roster

    try:
        data = args.roster.read_bytes()
    except OSError as exc:
        raise CommandError(f"cannot read {args.roster}: {exc.strerror}") from None
    try:
        parsed = parse_roster(data, args.roster.name)
    except RosterError as exc:
        raise CommandError(f"{args.roster.name}: {exc.message} ({exc.code})") from None
    for warning in parsed.warnings:
        say(f"  note: {warning.message}")
    if parsed.problems:
        for problem in parsed.problems:
            say(f"  {problem.message} ({problem.code})")
        raise CommandError(f"{len(parsed.problems)} row(s) have problems; nothing was imported. Fix them and import again.")
    conn = _connect(settings)
    course_id = _course_id(conn, args.course)
    if args.dry_run:
        say(f"{len(parsed.rows)} rows are ready to import into course {course_id} (dry run: nothing written).")
        return 0
    with transaction(conn):
        result = apply_roster(conn, course_id, parsed.rows, system_clock())
    say(f"Imported into course {course_id}: {result.added} added, {result.updated} updated, {result.unchanged} unchanged.")
    return 0


def cmd_device_add(args, settings: Settings) -> int:
    conn = _connect(settings)
    course_id = _course_id(conn, args.course)
    course = courses.get_course(conn, course_id)
    now = system_clock()
    if args.hours is not None:
        if not 0 < args.hours <= 24 * 30:
            raise CommandError("--hours must be between 0 and 720")
        expires = now + timedelta(hours=args.hours)
    else:
        expires = default_device_expiry(course.course_date, ZoneInfo(course.time_zone), courses.list_sessions(conn, course_id), now)
    label = args.label.strip() or f"Device {now.astimezone(settings.zone):%H:%M}"
    with transaction(conn):
        device_id, token = devices.insert_device(conn, course_id, label[:80], expires, now)
    print(token)
    print(f"{settings.public_url}/usher/pair#t={token}")
    say(f"Device {device_id} ({label}) paired to course {course_id} until {expires.astimezone(settings.zone):%d/%m/%Y %H:%M}.")
    return 0


def cmd_device_list(args, settings: Settings) -> int:
    conn = _connect(settings)
    course_id = _course_id(conn, args.course)
    print("id\tlabel\tstate\tlast_seen\tcheck_ins")
    now = system_clock()
    for row in devices.list_devices(conn, course_id):
        d = row.device
        state = d.refusal(now) or "active"
        seen = d.last_seen_at.astimezone(settings.zone).strftime("%Y-%m-%d %H:%M") if d.last_seen_at else "-"
        print(f"{d.id}\t{d.label}\t{state}\t{seen}\t{row.scan_count}")
    return 0


def cmd_device_revoke(args, settings: Settings) -> int:
    conn = _connect(settings)
    with transaction(conn):
        changed = devices.revoke_device(conn, args.device_id, system_clock())
    if not changed:
        raise CommandError(f"device {args.device_id} does not exist or is already revoked")
    say(f"Device {args.device_id} revoked: its next scan is refused.")
    return 0


def _write(out: Path | None, text: str) -> None:
    if out is None:
        sys.stdout.write(text)
    else:
        out.write_text(text, encoding="utf-8", newline="")
        say(f"Written to {out}.")


def cmd_badges_export(args, settings: Settings) -> int:
    conn = _connect(settings)
    course_id = _course_id(conn, args.course)
    _write(args.out, exports.csv_text(exports.badge_link_rows(people.iter_badge_links(conn, course_id), settings.public_url)))
    return 0


def progress_bar(done: int, total: int, what: str = "badges", width: int = 30) -> None:
    """A bar redrawn in place on a terminal; plain lines at the end when stderr is a file."""
    if sys.stderr.isatty():
        filled = width * done // max(total, 1)
        sys.stderr.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total} {what}")
        if done >= total:
            sys.stderr.write("\n")
        sys.stderr.flush()
    elif done >= total:
        say(f"{done}/{total} {what}")


def cmd_badges_pdf(args, settings: Settings) -> int:
    from .badges import LAYOUTS, badge_sheets_pdf
    from .printing import cards_for
    from .store import logos

    if args.layout not in LAYOUTS:
        raise CommandError(f"unknown layout {args.layout!r}; choose one of {', '.join(LAYOUTS)}")
    conn = _connect(settings)
    course_id = _course_id(conn, args.course)
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

    from . import mailing
    from .store import mailings
    from .store.db import Database

    if not mailing.is_configured(settings):
        raise CommandError("set CHECKIN_SMTP_HOST and CHECKIN_SMTP_SENDER (and the user and password) first")
    conn = _connect(settings)
    course_id = _course_id(conn, args.course)
    course = courses.get_course(conn, course_id)
    mode = "failed" if args.failed else "all" if args.all else "unsent"
    recipients = mailings.list_recipients(conn, course_id, mode)
    conn.close()

    async def run() -> mailing.MailRun:
        db = Database(settings.db_path)
        await db.open()
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
    from .store import reports

    conn = _connect(settings)
    course_id = _course_id(conn, args.course)
    zone = ZoneInfo(courses.get_course(conn, course_id).time_zone)
    if args.format == "xlsx":
        from .exports_xlsx import attendance_workbook

        if args.out is None:
            raise CommandError("an xlsx workbook is a binary file: give --out FILE.xlsx")
        args.out.write_bytes(attendance_workbook(exports.load_report(conn, course_id, system_clock())))
        say(f"Written to {args.out}.")
    elif args.format == "csv":
        _write(args.out, exports.csv_text(exports.attendance_rows(exports.load_report(conn, course_id, system_clock()))))
    elif args.format == "scan-log":
        _write(args.out, exports.csv_text(exports.scan_log_rows(reports.list_scan_log(conn, course_id), zone)))
    else:
        _write(args.out, exports.csv_text(exports.audit_rows(reports.list_audit(conn, course_id), zone)))
    return 0



def cmd_certificates(args, settings: Settings) -> int:
    from .certificates import certificates_pdf, issue_certificates_tx

    conn = _connect(settings)
    course_id = _course_id(conn, args.course)
    with transaction(conn):
        issued = issue_certificates_tx(conn, course_id, system_clock())
    args.out.write_bytes(certificates_pdf(issued, settings.public_url))
    say(f"{len(issued.certificates)} certificate(s) written to {args.out}"
        + (f"; {issued.revoked} withdrawn (no longer qualify)." if issued.revoked else "."))
    return 0

def _read_password(args) -> str:
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass("Password: ")
        if getpass.getpass("Again: ") != password:
            raise CommandError("the two passwords differ")
    if len(password) < organisers.MIN_PASSWORD_LENGTH:
        raise CommandError(f"the password must have at least {organisers.MIN_PASSWORD_LENGTH} characters")
    return password


def cmd_user_password(args, settings: Settings) -> int:
    password = _read_password(args)
    conn = _connect(settings)
    with transaction(conn):
        organiser = organisers.get_organiser_by_username(conn, args.username)
        if organiser is None:
            raise CommandError(f"there is no organiser called {args.username.strip().lower()}; `checkin user list`")
        organisers.set_password(conn, organiser.id, password)
    say(f"New password set for {organiser.username}.")
    return 0


def cmd_user_list(args, settings: Settings) -> int:
    from .store import course_setup

    conn = _connect(settings)
    by_organiser: dict[int, list[str]] = {}
    for course in courses.list_courses(conn):
        for organiser in course_setup.list_course_organisers(conn, course.id):
            by_organiser.setdefault(organiser.id, []).append(str(course.id))
    print("id\tusername\tname\trole\tcourses")
    for o in course_setup.list_organisers(conn):
        role = "admin" if o.is_admin else "organiser"
        print(f"{o.id}\t{o.username}\t{o.display_name}\t{role}\t{','.join(by_organiser.get(o.id, [])) or '-'}")
    return 0


def cmd_user_add(args, settings: Settings) -> int:
    password = _read_password(args)
    username = args.username.strip().lower()
    if not username or len(username) > 60 or not username.replace(".", "").replace("_", "").replace("-", "").isalnum():
        raise CommandError("the user name may hold letters, digits, '.', '_' and '-' (at most 60)")
    conn = _connect(settings)
    with transaction(conn):
        if organisers.get_organiser_by_username(conn, username):
            raise CommandError(f"there is already an organiser called {username}")
        organiser_id = organisers.insert_organiser(conn, username, args.name or username, password, system_clock(), args.admin)
    print(organiser_id)
    say(f"Organiser {username} created{' (admin)' if args.admin else ''}.")
    return 0


def cmd_backup(args, settings: Settings) -> int:
    if not settings.db_path.exists():
        raise CommandError(f"there is no database at {settings.db_path}")
    if args.out.exists():
        raise CommandError(f"{args.out} exists already; choose a new file name")
    source = _connect(settings)
    target = sqlite3.connect(str(args.out))
    with target:
        # SQLite's online backup: a consistent snapshot while the server goes on writing.
        source.backup(target)
    target.close()
    say(f"Backed up {settings.db_path} to {args.out}.")
    return 0


def cmd_courses(args, settings: Settings) -> int:
    conn = _connect(settings)
    print("id\tdate\ttitle")
    for course in courses.list_courses(conn):
        print(f"{course.id}\t{course.course_date.isoformat()}\t{course.title}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
