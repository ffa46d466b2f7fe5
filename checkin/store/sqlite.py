"""The embedded SQLite store: connections with our pragmas, and one writer fed by a queue (group commit), its log
synced behind it."""

from __future__ import annotations

import asyncio
import os
import queue
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TypeVar

import aiosqlite

T = TypeVar("T")

PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    # FULL in WAL mode: every commit is on the disk (the WAL is synced) before anyone is told it happened, so a
    # write survives a power cut as well as a crash (migrations, the command line). The server's writer is the
    # exception that keeps the rule: its connection commits with NORMAL and _sync_loop syncs the log behind it,
    # answering a batch's writes only once that sync has ended (bench/scan_load.py reports what the sync costs).
    "PRAGMA synchronous=FULL",
    "PRAGMA foreign_keys=ON",
    "PRAGMA busy_timeout=5000",
    # A course's hot pages (badges, enrolments, today's scans) stay in memory: 32 MiB of page cache
    # per connection, and reads through a memory map instead of a system call per page.
    "PRAGMA cache_size=-32000",
    "PRAGMA mmap_size=268435456",
    # A statement that writes many rows (the door's multi-row INSERTs) keeps a statement journal so that it can be
    # undone alone; past 64 KiB SQLite spills it to a temporary file, created, written and deleted by every batch
    # (strace of the writer under load: an open, unlink and close per commit and about 60 more page writes).
    # In memory instead: 13-15 % less writer CPU per first check-in (bench/scan_writer.py). Temporary tables and
    # sorts live in memory too; the queries here sort at most a course's rows.
    "PRAGMA temp_store=MEMORY",
)


class Connection(sqlite3.Connection):
    """A sqlite3 connection with a small memo for what the scan path reads on every scan and seldom
    changes (a course's rules, checked against their version). One memo per connection, so per file."""

    dialect = "sqlite"

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.memo: dict = {}


def connect(path: Path | str) -> sqlite3.Connection:
    """A plain connection with our pragmas, in autocommit mode: transactions are explicit."""
    create_private(path)
    conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False, factory=Connection)
    _configure(conn)
    return conn


def create_private(path: Path | str) -> None:
    """Create the database file readable by its owner only (0600) if it does not exist yet.

    It holds badge codes and device token hashes, bearer secrets all. SQLite creates the -wal and -shm files
    with the permissions of the database file, so they are private too."""
    path = Path(path)
    if str(path) == ":memory:" or path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:  # another process made it meanwhile
        pass


def _configure(conn: sqlite3.Connection) -> None:
    conn.row_factory = sqlite3.Row
    for pragma in PRAGMAS:
        conn.execute(pragma)


@contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """A short write transaction. IMMEDIATE takes the write lock up front, so two writers queue on
    the busy timeout instead of failing with "database is locked" when a read upgrades to a write."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
        conn.execute("COMMIT")
    except BaseException:
        # Also when COMMIT itself fails (disk full, I/O error): never leave the connection inside a
        # transaction, or every later write would fail with "cannot start a transaction within a transaction".
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


def apply_migration(conn: sqlite3.Connection, name: str, script: str) -> bool:
    """Apply one migration file in its own transaction; False if another process applied it meanwhile."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        # Another process may have applied it while we waited for the lock.
        if conn.execute("SELECT 1 FROM schema_migrations WHERE name = ?", (name,)).fetchone():
            conn.execute("ROLLBACK")
            return False
        for statement in _statements(script):
            conn.execute(statement)
        conn.execute(
            "INSERT INTO schema_migrations (name, applied_at) VALUES (?, ?)",
            (name, datetime.now(timezone.utc).isoformat()),
        )
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
    return True


def _statements(script: str) -> Iterator[str]:
    """Split a migration into statements (executescript would commit on its own)."""
    lines = [line for line in script.splitlines() if not line.lstrip().startswith("--")]
    buffer = ""
    for line in lines:
        buffer += line + "\n"
        if sqlite3.complete_statement(buffer):
            if buffer.strip():
                yield buffer.strip()
            buffer = ""
    if buffer.strip():
        yield buffer.strip()


@dataclass(slots=True)
class _Job:
    fn: Callable[..., Any]
    args: tuple
    future: asyncio.Future
    result: Any = None
    error: BaseException | None = None


WRITER_STATEMENTS = 512  # prepared statements the writer keeps (the sqlite3 module's default: 128)


class SQLiteDatabase:
    """One writer thread fed by a queue, a syncer thread behind it, and one read connection.

    `write(fn, ...)` runs fn(conn, ...) on the writer's thread. Writes that arrive together share one
    transaction (group commit); one that raises is rolled back alone (see _run_batch), and every caller
    gets its answer only after the COMMIT and a sync of the log that began after it (_sync_loop). Fifty scans
    at the door cost one commit and at most one sync, not fifty, and nothing interleaves within a write.

    The writer is a thread of its own that takes the next batch as soon as the last one is committed, whatever
    the event loop is doing: the loop only queues jobs and is woken once per batch to hand out the answers. (A
    writer driven from the loop would wait, between two batches, for the loop to get round to it, while the
    loop answers the last batch's scans and reads new ones: the door would be bound by that relay, not by the
    work.)
    """

    MAX_BATCH = 64
    dialect = "sqlite"

    def __init__(self, path: Path | str, *, sync: str = "full"):
        """sync: "full" (every commit synced before anyone is told: _sync_loop) or "normal" (CHECKIN_SQLITE_SYNC: the
        writer's commits are not synced, as the floor of bench/scan_load.py; a power cut may lose the last ones)."""
        if sync not in ("full", "normal"):
            raise ValueError(f"sync must be full or normal, not {sync!r}")
        self.path = Path(path)
        self.sync = sync
        self.url = None
        self._reader: aiosqlite.Connection | None = None
        self._jobs: queue.SimpleQueue[_Job | None] | None = None
        self._thread: threading.Thread | None = None
        self._syncer: threading.Thread | None = None

    async def open(self, *, migrate: Callable[[sqlite3.Connection], Any]) -> None:
        create_private(self.path)

        def start_writer() -> sqlite3.Connection:
            # The door's batches write their rows in one statement whose text depends on the rows' number
            # (door/batch.py): room for those besides the rest of the writer's statements.
            conn = sqlite3.connect(str(self.path), isolation_level=None, check_same_thread=False, factory=Connection,
                                   cached_statements=WRITER_STATEMENTS)
            try:
                _configure(conn)
                migrate(conn)  # the embedded store keeps itself up to date (its commits synced, as the PRAGMAS say)
                # The writer's own commits are not synced in COMMIT: with sync "full", _sync_loop syncs the log
                # behind them, and nobody is told of a commit before a sync that began after it has ended.
                conn.execute("PRAGMA synchronous=NORMAL")
            except BaseException:
                conn.close()
                raise
            return conn

        writer = await asyncio.to_thread(start_writer)
        try:
            self._reader = await aiosqlite.connect(str(self.path), isolation_level=None, factory=Connection)
            await self._call(self._reader, _configure)
        except BaseException:
            writer.close()
            if self._reader is not None:
                await self._reader.close()
                self._reader = None
            raise
        self._jobs = queue.SimpleQueue()
        synced: queue.SimpleQueue | None = None
        if self.sync == "full":
            synced = queue.SimpleQueue()
            self._syncer = threading.Thread(target=_sync_loop, args=(self.path, synced),
                                            name="checkin-syncer", daemon=True)
            self._syncer.start()
        self._thread = threading.Thread(target=_write_loop, args=(writer, self._jobs, synced),
                                        name="checkin-writer", daemon=True)
        self._thread.start()

    async def close(self) -> None:
        if self._thread is not None:
            self._jobs.put(None)  # after the writes already queued
            await asyncio.to_thread(self._thread.join)  # the writer hands the syncer its end in turn
            if self._syncer is not None:
                await asyncio.to_thread(self._syncer.join)
                self._syncer = None
            self._thread = None
            self._jobs = None
        if self._reader is not None:
            await self._reader.close()
        self._reader = None

    async def write(self, fn: Callable[..., T], *args: Any) -> T:
        if self._jobs is None:
            raise RuntimeError("database is not open")
        job = _Job(fn, args, asyncio.get_running_loop().create_future())
        self._jobs.put(job)
        return await job.future

    async def read(self, fn: Callable[..., T], *args: Any) -> T:
        return await self._call(self._reader, fn, *args)

    def busy(self) -> int:
        """Writes waiting for the writer (for /metrics)."""
        return self._jobs.qsize() if self._jobs is not None else 0

    async def read_aside(self, fn: Callable[..., T], *args: Any) -> T:
        """A long read (a whole course's attendance) on its own connection in a thread of its own, so that
        the shared read connection stays free for the door's lookups meanwhile."""
        def run() -> T:
            conn = connect(self.path)
            try:
                return fn(conn, *args)
            finally:
                conn.close()

        return await asyncio.to_thread(run)

    @staticmethod
    async def _call(conn: aiosqlite.Connection | None, fn: Callable[..., T], *args: Any) -> T:
        if conn is None:
            raise RuntimeError("database is not open")
        # aiosqlite runs every call on the connection's own thread; _execute hands it a whole
        # function, so a read of several statements costs one thread hop instead of one per statement.
        return await conn._execute(fn, conn._conn, *args)


def _write_loop(conn: sqlite3.Connection, jobs: queue.SimpleQueue, synced: queue.SimpleQueue | None) -> None:
    """The writer thread: a batch of what is queued (up to MAX_BATCH) in one transaction, then the next batch at
    once. Each batch's answers go to the syncer (`synced`), which hands them to the event loop once the batch's
    commit is on the disk, or straight to the event loop when commits are not synced. Ends at the None that
    close() queues, and passes it on to the syncer."""
    try:
        while True:
            job = jobs.get()
            if job is None:
                return
            batch = [job]
            while len(batch) < SQLiteDatabase.MAX_BATCH:
                try:
                    job = jobs.get_nowait()
                except queue.Empty:
                    break
                if job is None:
                    jobs.put(None)  # end after this batch
                    break
                batch.append(job)
            try:
                _run_batch(conn, batch)
            except BaseException as exc:  # the COMMIT itself failed: nobody's write happened
                for job in batch:
                    job.error, job.result = exc, None
            if synced is None:
                _hand_over(batch)
            else:
                synced.put(batch)
    finally:
        conn.close()
        if synced is not None:
            synced.put(None)


def _sync_loop(path: Path, synced: queue.SimpleQueue) -> None:
    """The syncer thread: the log (the -wal file) synced to the disk behind the writer's commits. It takes every
    batch committed so far, syncs, and only then hands their answers to the event loop: a write is acknowledged
    once a sync that began after its commit has ended, so it survives a power cut, as with synchronous=FULL. The
    writer meanwhile commits the next batch, so a batch's statements and the last one's sync overlap instead of
    following each other (bench/scan_load.py). A checkpoint syncs the log before it copies from it (SQLite does
    that in synchronous=NORMAL), so nothing unsynced reaches the database file. Ends at the writer's None."""
    log = _LogFile(Path(f"{path}-wal"), path)
    try:
        while True:
            batch = synced.get()
            if batch is None:
                return
            batches, end = [batch], False
            while True:
                try:
                    batch = synced.get_nowait()
                except queue.Empty:
                    break
                if batch is None:
                    end = True
                    break
                batches.append(batch)
            try:
                log.sync()
            except OSError as exc:  # committed, but not known to be on the disk: not acknowledged as stored
                failure = NotSynced(f"the commit could not be synced to the disk: {exc}")
                for batch in batches:
                    for job in batch:
                        if job.error is None:
                            job.error, job.result = failure, None
            for batch in batches:
                _hand_over(batch)
            if end:
                return
    finally:
        log.close()


class NotSynced(sqlite3.OperationalError):
    """A write that committed but that the disk could not be made to keep (its sync failed): it may be in the
    database or, after a power cut, not. Answered 503 `not_stored` (web.py): send it again."""


class _LogFile:
    """The write-ahead log, opened for syncing (a sync reaches the file, whichever descriptor asks). SQLite keeps
    the same file while a connection is open; should it be another one (deleted and made again), it is reopened.
    Without a log file, the database file is synced."""

    def __init__(self, log: Path, database: Path):
        self.paths = (log, database)
        self.fd: int | None = None
        self.inode: tuple[int, int] | None = None

    def sync(self) -> None:
        for path in self.paths:
            try:
                found = os.stat(path)
            except FileNotFoundError:
                continue
            if self.fd is None or self.inode != (found.st_dev, found.st_ino):
                self.close()
                self.fd = os.open(path, os.O_RDONLY)
                opened = os.fstat(self.fd)
                self.inode = (opened.st_dev, opened.st_ino)
            getattr(os, "fdatasync", os.fsync)(self.fd)  # macOS has no fdatasync
            return

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = self.inode = None


def _hand_over(batch: list[_Job]) -> None:
    """A batch's answers to the event loop of each caller, in one call per loop (one, but for some tests)."""
    by_loop: dict[asyncio.AbstractEventLoop, list[_Job]] = {}
    for job in batch:
        by_loop.setdefault(job.future.get_loop(), []).append(job)
    for loop, answered in by_loop.items():
        try:
            loop.call_soon_threadsafe(_answer, answered)
        except RuntimeError:  # that loop is closed: nobody there is waiting any more
            pass


def _answer(batch: list[_Job]) -> None:
    for job in batch:
        if job.future.done():  # the caller went away; its write stands or fell with the batch
            continue
        if job.error is not None:
            job.future.set_exception(job.error)
        else:
            job.future.set_result(job.result)


def _run_batch(conn: sqlite3.Connection, batch: list[_Job]) -> None:
    """Run a batch of jobs in one transaction. Jobs seldom raise, so the first try has no savepoints (two
    statements fewer per job); if one does raise, everything is rolled back and the batch runs again with
    each job in its own savepoint, so that the one that raised leaves no trace and the others stand."""
    try:
        with transaction(conn):
            _run_gathered(conn, batch)
        return
    except Exception:
        _forget(conn)
    for job in batch:
        job.result = job.error = None
    with transaction(conn):
        for job in batch:
            conn.execute("SAVEPOINT job")
            try:
                job.result = job.fn(conn, *job.args)
            except Exception as exc:
                conn.execute("ROLLBACK TO job")
                _forget(conn)
                job.error = exc
            conn.execute("RELEASE job")


def _run_gathered(conn: sqlite3.Connection, batch: list[_Job]) -> None:
    """Run the jobs in order; consecutive jobs of one gathering function (`fn.gathers`: it takes a list of items and
    answers a list of results, one per item, as door/batch.decide_batch) make one call with all their items."""
    start = 0
    while start < len(batch):
        fn = batch[start].fn
        if not getattr(fn, "gathers", False):
            batch[start].result = fn(conn, *batch[start].args)
            start += 1
            continue
        end = start + 1
        while end < len(batch) and batch[end].fn is fn:
            end += 1
        results = fn(conn, [item for job in batch[start:end] for item in job.args[0]])
        taken = 0
        for job in batch[start:end]:
            count = len(job.args[0])
            job.result = results[taken:taken + count]
            taken += count
        start = end


def _forget(conn: sqlite3.Connection) -> None:
    """After a rollback the memo may hold what the rolled-back writes made: drop it."""
    memo = getattr(conn, "memo", None)
    if memo is not None:
        memo.clear()
