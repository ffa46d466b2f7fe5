"""What every command shares: messages, errors, the database connection, choosing the course."""

from __future__ import annotations

import getpass
import sys
from pathlib import Path

from ..settings import Settings
from ..store import courses, organisers
from ..store.db import open_sync


def say(message: str) -> None:
    print(message, file=sys.stderr)


class CommandError(Exception):
    """A command cannot go on; the message says what to do instead."""


_opened: list = []


def connect(settings: Settings):
    """The command's connection to its store; closed by `close_connections` when the command ends."""
    conn = open_sync(settings.database)
    _opened.append(conn)
    return conn


def close_connections() -> None:
    while _opened:
        _opened.pop().close()


def choose_course(conn, requested: int | None) -> int:
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


def write_out(out: Path | None, text: str) -> None:
    if out is None:
        sys.stdout.write(text)
    else:
        out.write_text(text, encoding="utf-8", newline="")
        say(f"Written to {out}.")


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


def read_password(args) -> str:
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass("Password: ")
        if getpass.getpass("Again: ") != password:
            raise CommandError("the two passwords differ")
    if len(password) < organisers.MIN_PASSWORD_LENGTH:
        raise CommandError(f"the password must have at least {organisers.MIN_PASSWORD_LENGTH} characters")
    return password
