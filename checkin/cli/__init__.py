"""The `checkin` command: serve, seed the demo, import rosters, pair devices, export.

Output meant for scripts (tokens, CSV, ids) goes to stdout; messages go to stderr.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..settings import Settings, SettingsError
from .access_commands import cmd_device_add, cmd_device_list, cmd_device_revoke, cmd_user_add, cmd_user_list, cmd_user_password
from ..store.db import SchemaOutOfDate
from .common import CommandError, close_connections, say
from .course_commands import cmd_backup, cmd_courses, cmd_demo, cmd_import, cmd_migrate, cmd_serve
from .output_commands import cmd_badges_export, cmd_badges_pdf, cmd_badges_send, cmd_certificates, cmd_export
from .records_commands import add_parsers as add_records_parsers


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return 2
    try:
        settings = Settings.from_environ(db=args.db, database_url=store_choice(args),
                                         data_dir=getattr(args, "data_dir", None))
        return args.func(args, settings) or 0
    except (CommandError, SettingsError, SchemaOutOfDate) as exc:
        say(f"checkin: {exc}")
        return 2
    finally:
        close_connections()


def store_choice(args) -> str | None:
    """--database-url, or "" when --db names a SQLite file (a flag wins over $CHECKIN_DATABASE_URL)."""
    url = getattr(args, "database_url", None)
    if url:
        return url
    return "" if getattr(args, "db", None) else None


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--db", type=Path, help="SQLite database file (default: $CHECKIN_DB or data/checkin.sqlite3)")
    common.add_argument("--database-url", metavar="URL",
                        help="postgresql://... instead of a SQLite file (default: $CHECKIN_DATABASE_URL)")
    with_course = argparse.ArgumentParser(add_help=False, parents=[common])
    with_course.add_argument("--course", type=int, help="course id (needed when the database holds several courses)")

    parser = argparse.ArgumentParser(
        prog="checkin", description="Check-in and attendance for one-day training courses.",
        epilog="First time? `checkin demo` creates a course held today and prints where to go; then `checkin serve`. "
               "Settings come from CHECKIN_* variables (see the README).",
    )
    sub = parser.add_subparsers(title="commands", metavar="COMMAND")

    p = sub.add_parser("serve", parents=[common], help="serve the web app and API")
    p.add_argument("--host", help="address to listen on (default 127.0.0.1; 0.0.0.0 for phones on the LAN)")
    p.add_argument("--port", type=int, help="port (default 8000)")
    p.add_argument("--data-dir", type=Path, help="folder for the database, secret key and certificates")
    p.add_argument("--https", action="store_true", default=None, help="serve TLS (phones need HTTPS for the camera)")
    p.add_argument("--cert", type=Path, help="TLS certificate (PEM)")
    p.add_argument("--key", type=Path, help="TLS private key (PEM)")
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("migrate", parents=[common],
                       help="bring the database's schema up to this version (PostgreSQL: once, before starting servers)")
    p.set_defaults(func=cmd_migrate)

    p = sub.add_parser("demo", parents=[common], help="create the demo course, held today around the current time")
    p.add_argument("--participants", type=int, default=80, help="roster size (default 80; scale up for load tests)")
    p.add_argument("--reset", action="store_true", help="delete the database file first")
    p.add_argument("--password", help="demo organiser's password (default: generated and printed)")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("import", parents=[with_course], help="import a roster (.xlsx or .csv): all rows or none")
    p.add_argument("roster", type=Path, help="the roster file")
    p.add_argument("--dry-run", action="store_true", help="check the file and report, write nothing")
    p.set_defaults(func=cmd_import)

    p = sub.add_parser("device", help="usher phones: pair, list, revoke")
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

    p = sub.add_parser("badges", help="badge links for mail merge, printable sheets, sending by e-mail")
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
    p.add_argument("--lang", choices=("vi", "en"), default="vi", help="language of the certificates (default vi)")
    p.add_argument("--out", type=Path, required=True, help="the PDF file to write")
    p.set_defaults(func=cmd_certificates)

    p = sub.add_parser("user", help="organiser accounts: add, list, reset a password")
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
    add_records_parsers(sub, common)
    return parser


if __name__ == "__main__":
    raise SystemExit(main())
