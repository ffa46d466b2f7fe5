"""The PostgreSQL store: connections shaped like the SQLite ones, a pool, transactions that retry.

The store modules are written once, in plain SQL with `?` placeholders, against a DB-API connection
(`conn.execute(sql, params)` returning a cursor whose rows are read by position or by column name).
`PgConnection` gives a psycopg 3 connection that shape: it turns `?` into psycopg's `%s` (once per
statement text) and returns rows that answer to both an index and a name. What differs between the two
databases beyond that lives in `store/dialect.py` and in the migrations folder of each.

Several server processes share one PostgreSQL database, so nothing here relies on being alone: a write is
one transaction on a pooled connection (no in-process queue), and a write that lost a race (a deadlock, a
serialisation failure, or a unique key taken by a concurrent transaction that committed first) is rolled
back and run again, once the winner's rows are visible. Write functions may run more than once (the SQLite
store's group commit already asks that of them).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Any, TypeVar

import psycopg
from psycopg import errors as pg_errors
from psycopg.pq import TransactionStatus

T = TypeVar("T")
log = logging.getLogger("checkin.store")

# Errors after which the same transaction, run again, can succeed: someone else committed first.
RETRYABLE = (pg_errors.SerializationFailure, pg_errors.DeadlockDetected, pg_errors.UniqueViolation)
MAX_ATTEMPTS = 4


class NeedsTransaction(Exception):
    """Raised by the first try of PostgresDatabase.write_optimistic, before it has written anything: what it read
    changed, or its case needs locks. The write runs again, as a transaction."""


def is_url(target: object) -> bool:
    return isinstance(target, str) and target.startswith(("postgresql://", "postgres://"))


@functools.lru_cache(maxsize=4096)
def translate(sql: str) -> str:
    """`?` placeholders to psycopg's `%s`, and a literal `%` to `%%`; quoted text is left alone."""
    out: list[str] = []
    quote = None
    for ch in sql:
        if quote:
            out.append("%%" if ch == "%" else ch)
            if ch == quote:
                quote = None
        elif ch in ("'", '"'):
            quote = ch
            out.append(ch)
        elif ch == "?":
            out.append("%s")
        elif ch == "%":
            out.append("%%")
        else:
            out.append(ch)
    return "".join(out)


class Row(tuple):
    """A result row read by position (`row[0]`, unpacking) or by column name (`row["title"]`), like sqlite3.Row."""

    __slots__ = ()
    _index: dict[str, int] = {}

    def __getitem__(self, key):  # type: ignore[override]
        if isinstance(key, str):
            return tuple.__getitem__(self, self._index[key])
        return tuple.__getitem__(self, key)

    def keys(self) -> list[str]:
        return list(self._index)


@functools.lru_cache(maxsize=1024)
def _row_class(names: tuple[bytes, ...]) -> type[Row]:
    return type("Row", (Row,), {"__slots__": (), "_index": {name.decode(): i for i, name in enumerate(names)}})


def _row_factory(cursor: psycopg.Cursor) -> Callable[[Sequence[Any]], Row]:
    """Run for every statement: the column names straight from the result (`cursor.description` would make a
    Column object per column each time), one row class per set of names."""
    result = cursor.pgresult
    if result is None or not result.nfields:
        return tuple  # type: ignore[return-value]
    return _row_class(tuple(result.fname(i) for i in range(result.nfields)))


class PgConnection:
    """A psycopg connection in autocommit mode with the sqlite3 connection's shape: transactions are explicit
    (`BEGIN` ... `COMMIT`), exactly as the SQLite store runs them."""

    dialect = "postgresql"

    def __init__(self, raw: psycopg.Connection):
        self.raw = raw
        self.memo: dict = {}  # see store.sqlite.Connection: what the scan path keeps per connection

    def execute(self, sql: str, params: Sequence[Any] = ()) -> psycopg.Cursor:
        return self.raw.execute(translate(sql), tuple(params) if params else None)

    def executemany(self, sql: str, params_seq) -> psycopg.Cursor:
        cursor = self.raw.cursor()
        cursor.executemany(translate(sql), [tuple(p) for p in params_seq])
        return cursor

    @property
    def in_transaction(self) -> bool:
        return self.raw.info.transaction_status != TransactionStatus.IDLE

    def close(self) -> None:
        self.raw.close()

    def __enter__(self) -> "PgConnection":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def configure(raw: psycopg.Connection) -> None:
    """Every connection: autocommit (transactions are explicit) and rows with names."""
    raw.autocommit = True
    raw.row_factory = _row_factory
    # Times are stored as text in UTC; keep the session's zone out of anything the server formats.
    raw.execute("SET TIME ZONE 'UTC'")


def connect(url: str, **kwargs: Any) -> PgConnection:
    raw = psycopg.connect(url, autocommit=True, **kwargs)
    configure(raw)
    return PgConnection(raw)


@contextmanager
def transaction(conn: PgConnection) -> Iterator[PgConnection]:
    """A write transaction (READ COMMITTED: rows are locked where a decision needs it, see dialect.py)."""
    conn.execute("BEGIN")
    try:
        yield conn
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        conn.memo.clear()
        raise


def apply_migration(conn: PgConnection, name: str, script: str) -> bool:
    """Apply one migration file in its own transaction; False if another process applied it meanwhile.

    The whole file goes to the server at once (function bodies hold semicolons); an advisory lock makes
    instances started together apply each migration once, one after the other."""
    conn.execute("BEGIN")
    try:
        conn.execute("SELECT pg_advisory_xact_lock(7461)")  # 7461: checkin's migration lock
        if conn.execute("SELECT 1 FROM schema_migrations WHERE name = ?", (name,)).fetchone():
            conn.execute("ROLLBACK")
            return False
        conn.raw.execute(script)  # type: ignore[arg-type]  # a whole file, no parameters
        conn.execute(
            "INSERT INTO schema_migrations (name, applied_at) VALUES (?, ?)",
            (name, datetime.now(timezone.utc).isoformat()),
        )
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
    return True


class PostgresDatabase:
    """Reads and writes on a pool of connections, each call on a thread of our own.

    `write(fn, ...)` runs fn(conn, ...) in one transaction and answers only after its COMMIT; a write that lost
    a race is run again (see RETRYABLE). Reads run in autocommit (each statement sees what is committed);
    `store.db.read_snapshot` gives a function one snapshot for several statements.
    """

    dialect = "postgresql"

    def __init__(self, url: str, *, min_size: int = 2, max_size: int = 12, name: str = "checkin"):
        from psycopg_pool import ConnectionPool

        self.url = url
        self.path = None
        self._pool = ConnectionPool(
            url, min_size=min_size, max_size=max_size, open=False, configure=configure, name=name,
            kwargs={"autocommit": True, "application_name": name}, timeout=10.0,
        )
        # One thread per pooled connection: a call never waits for a thread while a connection is free.
        self._threads = ThreadPoolExecutor(max_size, thread_name_prefix="checkin-pg")
        self._wrapped: dict[int, PgConnection] = {}

    async def open(self) -> None:
        await self._run(self._pool.open, True, 15.0)

    async def close(self) -> None:
        await self._run(self._pool.close)
        self._threads.shutdown(wait=False)

    def busy(self) -> int:
        """Pooled connections in use (for /metrics)."""
        stats = self._pool.get_stats()
        return stats.get("pool_size", 0) - stats.get("pool_available", 0)

    async def read(self, fn: Callable[..., T], *args: Any) -> T:
        return await self._run(self._read, fn, args)

    async def write(self, fn: Callable[..., T], *args: Any) -> T:
        return await self._run(self._write, fn, args)

    async def write_optimistic(self, first: Callable[..., T], fn: Callable[..., T], *args: Any) -> T:
        """first(conn, *args) with every statement committing on its own (no BEGIN, no COMMIT: round trips saved);
        when it raises NeedsTransaction, fn(conn, *args) as write() runs it. first must write at most once and last,
        in one statement, guarded so that it is right whatever committed since it read (scanning.record_scan_optimistic)."""
        return await self._run(self._write_optimistic, first, fn, args)

    async def read_aside(self, fn: Callable[..., T], *args: Any) -> T:
        """A long read: any pooled connection will do, the others stay free for the door."""
        return await self.read(fn, *args)

    async def _run(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._threads, fn, *args)

    @contextmanager
    def connection(self) -> Iterator[PgConnection]:
        with self._pool.connection() as raw:
            conn = self._wrapped.get(id(raw))
            if conn is None or conn.raw is not raw:
                conn = self._wrapped[id(raw)] = PgConnection(raw)
            yield conn

    def _read(self, fn: Callable[..., T], args: tuple) -> T:
        with self.connection() as conn:
            return fn(conn, *args)

    def _write(self, fn: Callable[..., T], args: tuple) -> T:
        return run_write(self.connection, fn, args)

    def _write_optimistic(self, first: Callable[..., T], fn: Callable[..., T], args: tuple) -> T:
        for attempt in range(1, MAX_ATTEMPTS + 1):
            with self.connection() as conn:
                try:
                    return first(conn, *args)
                except NeedsTransaction:
                    break
                except RETRYABLE as exc:  # a retry of the same nonce committed first, on another instance
                    conn.memo.clear()
                    if attempt == MAX_ATTEMPTS:
                        raise
                    log.info("checkin: write retried after %s (attempt %d)", type(exc).__name__, attempt)
            time.sleep(0.002 * attempt)
        return run_write(self.connection, fn, args)


def run_write(connection: Callable[[], Any], fn: Callable[..., T], args: tuple) -> T:
    """fn(conn, *args) in one transaction, run again when it lost a race to a concurrent transaction."""
    for attempt in range(1, MAX_ATTEMPTS + 1):
        with connection() as conn:
            try:
                # psycopg's own BEGIN and COMMIT (or ROLLBACK, when fn raises): plain commands, cheaper than two
                # statements through a cursor each, on the path every scan takes.
                with conn.raw.transaction():
                    return fn(conn, *args)
            except BaseException as exc:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                conn.memo.clear()  # it may hold what the rolled-back writes made
                if not isinstance(exc, RETRYABLE) or attempt == MAX_ATTEMPTS:
                    raise
                log.info("checkin: write retried after %s (attempt %d)", type(exc).__name__, attempt)
        time.sleep(0.002 * attempt)
    raise AssertionError("unreachable")
