"""Commands about the course and the server: serve, demo, import, courses, backup."""

from __future__ import annotations

import copy
import gc
import os
import secrets
import sqlite3
from dataclasses import replace
from pathlib import Path

from ..clock import system_clock
from ..draining import DrainingServer
from ..settings import Settings
from ..store import courses, organisers
from ..store.db import describe, transaction
from .common import CommandError, choose_course, connect, say


def cmd_serve(args, settings: Settings) -> int:
    import uvicorn

    from .. import connections
    from ..app import create_app

    host = args.host
    if args.https and host is None and not os.environ.get("CHECKIN_HOST"):
        host = "0.0.0.0"  # HTTPS is for the phones on the venue network: listen beyond this laptop
    settings = replace(
        settings, host=host or settings.host, port=args.port or settings.port,
        https=settings.https if args.https is None else args.https, tls_cert=args.cert or settings.tls_cert,
        tls_key=args.key or settings.tls_key,
    ).validated()
    settings = settings.with_secret()  # on PostgreSQL: refuses to start without the shared key
    if settings.uses_postgres:
        check = connect(settings)  # refuses to start on a schema older than this version (SchemaOutOfDate)
        check.close()
    ssl = {}
    if settings.https:
        from .. import tls

        cert, key = tls.ensure_certificate(settings)
        ssl = {"ssl_certfile": str(cert), "ssl_keyfile": str(key)}
        if not settings.tls_cert:
            say(f"checkin: HTTPS with the local CA in {tls.local_ca(settings).folder}")
            for address in tls.phone_addresses():
                shown = f"[{address}]" if ":" in address else address
                say(f"  phones: https://{shown}:{settings.port}/ca  (install the CA once, then /usher)")
    say(f"checkin: serving {describe(settings.database)} at {settings.public_url} as {settings.instance}")
    if settings.sqlite_sync == "normal" and not settings.database_url:
        say("checkin: CHECKIN_SQLITE_SYNC=normal: commits are not synced to the disk; a power cut may lose the last "
            "scans the phones were told are stored (unset it for the default, full)")
    files = connections.raise_file_limit()
    budget = connections.ConnectionBudget(connections.connection_limit(settings.max_connections, files),
                                          header_timeout=settings.header_timeout_seconds)
    say(f"checkin: up to {budget.limit} connections ({files} file handles); a request header must arrive within"
        f" {settings.header_timeout_seconds} s, an idle connection is closed after {connections.KEEP_ALIVE_SECONDS} s")
    # Everything imported so far lives as long as the process: keep it out of the collector's
    # full passes, whose pauses would otherwise land on scans at the door.
    gc.freeze()
    app = create_app(settings)
    config = uvicorn.Config(app, host=settings.host, port=settings.port, **server_options(settings),
                            http=budget.protocol(), ws="none", timeout_keep_alive=connections.KEEP_ALIVE_SECONDS,
                            timeout_graceful_shutdown=30, log_config=log_config(settings), **ssl)
    DrainingServer(config, app, settings.drain_seconds).run()
    return 0


def log_config(settings: Settings) -> dict:
    """uvicorn's logging, with the instance's name on every line (several instances write to one journal)."""
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    name = settings.instance.replace("%", "%%")
    config["formatters"]["default"]["fmt"] = f"%(levelprefix)s [{name}] %(message)s"
    config["formatters"]["access"]["fmt"] = (
        f'%(levelprefix)s [{name}] %(client_addr)s - "%(request_line)s" %(status_code)s')
    # checkin's own loggers (relay, draining, workers) through the same handler and format.
    config["loggers"]["checkin"] = {"handlers": ["default"], "level": "INFO", "propagate": False}
    return config


def server_options(settings: Settings) -> dict:
    """uvicorn's options for `checkin serve` (tests run a server with the same ones)."""
    return {
        "access_log": settings.access_log, "log_level": "info",
        # Behind a trusted proxy, the client's address (for the sign-in limits) and scheme (for a Secure cookie)
        # come from X-Forwarded-For and X-Forwarded-Proto; from anyone else those headers are ignored.
        "proxy_headers": True, "forwarded_allow_ips": settings.forwarded_allow_ips,
    }


def cmd_migrate(args, settings: Settings) -> int:
    """Bring the database's schema up to this version: once, before starting the instances (PostgreSQL)."""
    from ..store.db import connect as connect_store, migrate, pending_migrations

    conn = connect_store(settings.database)
    try:
        pending = pending_migrations(conn)
        if not pending:
            say("checkin: the schema is up to date; nothing to do.")
            return 0
        applied = migrate(conn)
    finally:
        conn.close()
    for name in applied:
        print(name)
    say(f"checkin: applied {len(applied)} migration(s); the instances can start.")
    return 0


def cmd_demo(args, settings: Settings) -> int:
    from ..course.demo import USERNAME, create_demo

    if args.participants < 1 or args.participants > 200_000:
        raise CommandError("--participants must be between 1 and 200000")
    path = settings.db_path
    if args.reset and settings.uses_postgres:
        # Deleting a PostgreSQL database is a decision for its operator, not a side effect of a demo.
        raise CommandError("--reset deletes a SQLite file; on PostgreSQL it would delete nothing. For a fresh "
                           "database there: dropdb and createdb it, run checkin migrate, then checkin demo.")
    if args.reset:
        for suffix in ("", "-wal", "-shm"):
            Path(str(path) + suffix).unlink(missing_ok=True)
    conn = connect(settings)
    now = system_clock()
    # On a database with real data, the demo account's password stays as it is and nothing secret is printed:
    # someone may use that account, and this output may end up in a terminal log or a screenshot.
    real = courses.holds_real_data(conn, USERNAME)
    password = args.password or secrets.token_urlsafe(9)
    password_hash = None if real else organisers.hash_password(password)  # ~30 ms: not inside the transaction
    with transaction(conn):
        organiser = organisers.get_organiser_by_username(conn, USERNAME)
        if organiser is not None:
            organiser_id = organiser.id
            if not real:
                organisers.set_password_hash(conn, organiser_id, password_hash, now)
        elif not real:
            organiser_id = organisers.insert_organiser(conn, USERNAME, "Ban Tổ chức (demo)", None, now, is_admin=True,
                                                       password_hash=password_hash)
        else:
            organiser_id = None  # no new administrator account on a database that holds real data
        demo = create_demo(conn, now, settings.zone, args.participants, organiser_id=organiser_id)
    base = settings.public_url
    print(demo.course_id)
    if real:
        _say_demo_added_to_real_data(demo.course_id, describe(settings.database), base, has_account=organiser is not None,
                                     password_given=bool(args.password))
        return 0
    say(f"Demo course {demo.course_id} created in {describe(settings.database)} with {demo.participants} participants. Open:")
    say(f"  Organiser sign-in:   {base}/login   (user: {USERNAME}   password: {password})")
    say(f"  Course workspace:    {base}/courses/{demo.course_id}")
    say(f"  Big-screen view:     {base}/courses/{demo.course_id}/live")
    say(f"  Usher's scanner:     {base}/usher/pair#t={demo.device_token}")
    say(f"  A cadre's badge:     {base}/b/{demo.sample_badge}   (not yet checked in: scan it)")
    say(f"  API device token:    {demo.device_token}")
    return 0


def _say_demo_added_to_real_data(course_id: int, where: str, base: str, *, has_account: bool,
                                 password_given: bool) -> None:
    from ..course.demo import USERNAME

    say(f"Demo course {course_id} added to {where}, which already holds real data (courses or organisers that "
        "the demo did not make).")
    if has_account:
        say("The demo account's password was left as it is" + (" (--password was not used)" if password_given else "")
            + f"; to give it a new one: checkin user password {USERNAME}")
    else:
        say("No demo account was made: administrators see every course, so sign in as one of them.")
    say("No device token or password is printed. Pair a phone from the course's usher devices page, or with "
        f"checkin device add --course {course_id}")
    say(f"  Course workspace:    {base}/courses/{course_id}")
    say(f"  Big-screen view:     {base}/courses/{course_id}/live")
    say("A database of its own for the demo instead: checkin demo --reset --db data/demo.sqlite3 "
        "(--reset deletes that file first; `make run` does this).")


def cmd_import(args, settings: Settings) -> int:
    from ..i18n import reset_language, set_language
    from ..course.importing import import_in_transactions, preview_roster
    from ..roster import RosterError, parse_roster
    from ..store import people

    try:
        data = args.roster.read_bytes()
    except OSError as exc:
        raise CommandError(f"cannot read {args.roster}: {exc.strerror}") from None
    token = set_language("en")  # the parser writes its messages in the current language; the command line is English
    try:
        parsed = parse_roster(data, args.roster.name)
    except RosterError as exc:
        raise CommandError(f"{args.roster.name}: {exc.message} ({exc.code})") from None
    finally:
        reset_language(token)
    for warning in parsed.warnings:
        say(f"  note: {warning.message}")
    if parsed.problems:
        for problem in parsed.problems:
            say(f"  {problem.message} ({problem.code})")
        raise CommandError(f"{len(parsed.problems)} row(s) have problems; nothing was imported. Fix them and import again.")
    conn = connect(settings)
    course_id = choose_course(conn, args.course)
    # The import page's "likely duplicates to check", on the command line.
    for plan in preview_roster(parsed, people.list_roster(conn, course_id)).plans:
        if plan.suspicious:
            shared = "phone number" if plan.basis == "phone" else "member code"
            say(f"  check row {plan.row.row_number} ({plan.row.full_name}): same {shared} as {plan.match.full_name}"
                " on the course under another name, so added as a new person")
    if args.dry_run:
        say(f"{len(parsed.rows)} rows are ready to import into course {course_id} (dry run: nothing written).")
        return 0
    # A few hundred rows per transaction, so that a server using the same database keeps answering the door.
    result = import_in_transactions(conn, course_id, parsed.rows, system_clock(), transaction=transaction)
    say(f"Imported into course {course_id}: {result.added} added, {result.updated} updated, {result.unchanged} unchanged.")
    return 0


def cmd_courses(args, settings: Settings) -> int:
    conn = connect(settings)
    print("id\tdate\ttitle")
    for course in courses.list_courses(conn):
        print(f"{course.id}\t{course.course_date.isoformat()}\t{course.title}")
    return 0



def cmd_backup(args, settings: Settings) -> int:
    if settings.uses_postgres:
        raise CommandError("a PostgreSQL database is backed up with pg_dump (see deploy/README.md, Backups): "
                           "pg_dump --format=custom --file=FILE DATABASE_URL")
    if not settings.db_path.exists():
        raise CommandError(f"there is no database at {settings.db_path}")
    if args.out.exists():
        raise CommandError(f"{args.out} exists already; choose a new file name")
    source = connect(settings)
    target = sqlite3.connect(str(args.out))
    with target:
        # SQLite's online backup: a consistent snapshot while the server goes on writing.
        source.backup(target)
    target.close()
    say(f"Backed up {settings.db_path} to {args.out}.")
    return 0
