"""Which store, and what every caller uses whatever the store: connections, transactions, snapshots, migrations.

A store target is a SQLite file path (the embedded default) or a `postgresql://` URL (several server
processes on one database). The store modules next to this one are written once against either
connection; `store/sqlite.py` and `store/postgres.py` hold what differs in running them, `store/dialect.py`
what differs in the SQL itself.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import Any

from . import postgres, sqlite
from .postgres import NeedsTransaction, PgConnection, PostgresDatabase  # noqa: F401 (NeedsTransaction: for the door)
from .sqlite import SQLiteDatabase

Database = SQLiteDatabase | PostgresDatabase
Target = Path | str


class SchemaOutOfDate(RuntimeError):
    """The database's schema is older than this version of checkin (PostgreSQL: run `checkin migrate`)."""


def is_postgres(target: Target) -> bool:
    return postgres.is_url(target)


def describe(target: Target) -> str:
    """The target for a log line: a PostgreSQL URL without its password."""
    if not is_postgres(target):
        return str(target)
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(str(target))
    if parts.password:
        netloc = parts.netloc.replace(":" + parts.password + "@", ":***@")
        return urlunsplit(parts._replace(netloc=netloc))
    return str(target)


def dialect_of(conn: Any) -> str:
    return getattr(conn, "dialect", "sqlite")


def connect(target: Target):
    """A connection with no migration applied or checked: for reading aside (exports) and for `migrate`."""
    return postgres.connect(str(target)) if is_postgres(target) else sqlite.connect(target)


def open_sync(target: Target):
    """For the command line and tests: a connection to an up-to-date database.

    SQLite keeps itself up to date (one process at a time changes the file's schema, under its write lock);
    PostgreSQL is migrated once by `checkin migrate`, and refuses to be used at an older schema."""
    conn = connect(target)
    try:
        if dialect_of(conn) == "postgresql":
            check_schema(conn)
        else:
            migrate(conn)
    except BaseException:
        conn.close()
        raise
    return conn


async def open_database(target: Target, *, pool_size: int = 10, name: str = "checkin",
                        sqlite_sync: str = "full") -> Database:
    """The store a server uses: SQLite migrated at start, PostgreSQL checked (instances never migrate it).
    sqlite_sync: see SQLiteDatabase."""
    if is_postgres(target):
        db = PostgresDatabase(str(target), max_size=pool_size, name=name)
        await db.open()
        try:
            await db.read(check_schema)
        except BaseException:
            await db.close()
            raise
        return db
    db = SQLiteDatabase(target, sync=sqlite_sync)
    await db.open(migrate=migrate)
    return db


@contextmanager
def transaction(conn) -> Iterator[Any]:
    """One write transaction: committed at the end of the block, rolled back if it raises."""
    manager = postgres.transaction if dialect_of(conn) == "postgresql" else sqlite.transaction
    with manager(conn):
        yield conn


@contextmanager
def read_snapshot(conn) -> Iterator[Any]:
    """Several reads that see one moment (a report whose figures agree, a copy and its cursor)."""
    if dialect_of(conn) == "postgresql":
        conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
    else:
        conn.execute("BEGIN")  # WAL: a read transaction sees one commit point
    try:
        yield conn
    finally:
        if conn.in_transaction:
            conn.execute("COMMIT")


def migration_files(dialect: str) -> list[tuple[str, str]]:
    """(name, SQL) of every migration of a dialect, in the order they apply."""
    folder = resources.files("checkin.store") / "migrations" / dialect
    items = sorted((item for item in folder.iterdir() if item.name.endswith(".sql")), key=lambda item: item.name)
    return [(item.name, item.read_text(encoding="utf-8")) for item in items]


def _applied(conn) -> set[str]:
    conn.execute("CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)")
    return {row[0] for row in conn.execute("SELECT name FROM schema_migrations")}


def pending_migrations(conn) -> list[str]:
    done = _applied(conn)
    return [name for name, _ in migration_files(dialect_of(conn)) if name not in done]


def migrate(conn) -> list[str]:
    """Apply, in file-name order, the migrations not yet recorded; returns the names applied.

    Recorded by file name, so two branches that both added "0002_..." still apply cleanly."""
    dialect = dialect_of(conn)
    apply = postgres.apply_migration if dialect == "postgresql" else sqlite.apply_migration
    done = _applied(conn)
    return [name for name, script in migration_files(dialect) if name not in done and apply(conn, name, script)]


def check_schema(conn) -> None:
    missing = pending_migrations(conn)
    if missing:
        raise SchemaOutOfDate(
            f"the database schema is older than this checkin ({len(missing)} migration(s) to apply, first "
            f"{missing[0]}); run `checkin migrate` once, then start the servers"
        )
