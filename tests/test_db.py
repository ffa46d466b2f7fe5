"""The store's write path: writes that arrive together share one transaction, and one that fails
leaves no trace while the others stand."""

from __future__ import annotations

import asyncio
import errno
import os
import sqlite3
import threading
import stat
import subprocess
import sys

import httpx2 as httpx
import pytest

from checkin.store.db import migrate, open_database
from checkin.store.sqlite import SQLiteDatabase as Database

from .cluster import free_port, wait_until


class Refused(Exception):
    pass


def test_a_failing_write_in_a_batch_is_rolled_back_alone(tmp_path):
    async def main():
        db = Database(tmp_path / "t.sqlite3")
        await db.open(migrate=migrate)
        try:
            await db.write(lambda conn: conn.execute("CREATE TABLE t (n INTEGER)"))

            def insert(conn, n):
                conn.execute("INSERT INTO t (n) VALUES (?)", (n,))
                if n == 2:
                    raise Refused("half-written, then refused")
                return n

            # Queued in one loop turn: one batch, one transaction.
            results = await asyncio.gather(*(db.write(insert, n) for n in range(5)), return_exceptions=True)
            stored = await db.read(lambda conn: [r[0] for r in conn.execute("SELECT n FROM t ORDER BY n")])
        finally:
            await db.close()
        return results, stored

    results, stored = asyncio.run(main())
    assert [r if not isinstance(r, Exception) else type(r) for r in results] == [0, 1, Refused, 3, 4]
    assert stored == [0, 1, 3, 4]


def test_the_writer_gathers_the_items_of_jobs_queued_together_into_one_call(tmp_path):
    # A gathering function (fn.gathers, as door/batch.decide_batch) takes a list of items and answers one result per
    # item: the writer makes one call of the consecutive jobs of a batch, in their order, and hands each job its
    # own results. If that call raises, the batch runs again job by job, each in its own savepoint: the job whose
    # items fail gets the error, the others their answers.
    calls = []

    def gathered(conn, items):
        calls.append(list(items))
        if "bad" in items:
            raise Refused("an item it cannot take")
        for item in items:
            conn.execute("INSERT INTO t (n) VALUES (?)", (item,))
        return [f"stored {item}" for item in items]

    gathered.gathers = True

    async def main():
        db = Database(tmp_path / "t.sqlite3")
        await db.open(migrate=migrate)
        try:
            await db.write(lambda conn: conn.execute("CREATE TABLE t (n TEXT)"))
            first = await asyncio.gather(
                db.write(gathered, ["a"]), db.write(gathered, ["b", "c"]),
                db.write(lambda conn: conn.execute("INSERT INTO t (n) VALUES ('plain')") and "plain"),
                db.write(gathered, ["d"]))
            first_calls = list(calls)
            calls.clear()
            second = await asyncio.gather(db.write(gathered, ["e"]), db.write(gathered, ["bad"]),
                                          db.write(gathered, ["f"]), return_exceptions=True)
            stored = await db.read(lambda conn: [r[0] for r in conn.execute("SELECT n FROM t ORDER BY rowid")])
        finally:
            await db.close()
        return first, first_calls, second, list(calls), stored

    first, first_calls, second, second_calls, stored = asyncio.run(main())
    assert first == [["stored a"], ["stored b", "stored c"], "plain", ["stored d"]]
    assert first_calls == [["a", "b", "c"], ["d"]]  # one call before the plain job, one after: the order kept
    assert [r if not isinstance(r, Exception) else type(r) for r in second] == [["stored e"], Refused, ["stored f"]]
    assert second_calls == [["e", "bad", "f"], ["e"], ["bad"], ["f"]]  # gathered, then job by job
    assert stored == ["a", "b", "c", "plain", "d", "e", "f"]


def test_writes_after_a_failed_batch_still_work(tmp_path):
    async def main():
        db = Database(tmp_path / "t.sqlite3")
        await db.open(migrate=migrate)
        try:
            await db.write(lambda conn: conn.execute("CREATE TABLE t (n INTEGER)"))

            def fail(conn):
                conn.execute("INSERT INTO t (n) VALUES (99)")
                raise Refused("no")

            with pytest.raises(Refused):
                await db.write(fail)
            await db.write(lambda conn: conn.execute("INSERT INTO t (n) VALUES (1)"))
            return await db.read(lambda conn: [r[0] for r in conn.execute("SELECT n FROM t")])
        finally:
            await db.close()

    assert asyncio.run(main()) == [1]


def test_the_database_and_its_wal_files_are_readable_by_their_owner_only(tmp_path):
    # They hold badge codes and token hashes, bearer secrets all: 0600 from the first byte, whatever the umask.
    old = os.umask(0o022)
    try:
        async def main():
            db = Database(tmp_path / "private.sqlite3")
            await db.open(migrate=migrate)
            try:
                await db.write(lambda conn: conn.execute("CREATE TABLE t (n INTEGER)"))
                return sorted(p.name for p in tmp_path.iterdir()), {
                    p.name: stat.S_IMODE(p.stat().st_mode) for p in tmp_path.iterdir()}
            finally:
                await db.close()

        names, modes = asyncio.run(main())
    finally:
        os.umask(old)
    assert names == ["private.sqlite3", "private.sqlite3-shm", "private.sqlite3-wal"]
    assert set(modes.values()) == {0o600}


def test_close_waits_for_the_writes_already_queued(tmp_path):
    """The writer is a thread of its own: close() lets it finish what was queued before it stops."""
    async def main():
        db = Database(tmp_path / "t.sqlite3")
        await db.open(migrate=migrate)
        await db.write(lambda conn: conn.execute("CREATE TABLE t (n INTEGER)"))
        pending = [asyncio.ensure_future(db.write(lambda conn, n=n: conn.execute("INSERT INTO t VALUES (?)", (n,))))
                   for n in range(200)]
        await asyncio.sleep(0)  # queued, most of them not yet written
        await db.close()
        await asyncio.gather(*pending)
        db = Database(tmp_path / "t.sqlite3")
        await db.open(migrate=migrate)
        try:
            return await db.read(lambda conn: conn.execute("SELECT COUNT(*), COUNT(DISTINCT n) FROM t").fetchone()[:])
        finally:
            await db.close()

    assert asyncio.run(main()) == (200, 200)


def test_a_write_interrupted_by_a_base_exception_leaves_the_writer_working(tmp_path):
    """Not only Exception: whatever a write raises reaches its caller, and the writer goes on with the next."""
    async def main():
        db = Database(tmp_path / "t.sqlite3")
        await db.open(migrate=migrate)
        try:
            await db.write(lambda conn: conn.execute("CREATE TABLE t (n INTEGER)"))

            def interrupted(conn):
                conn.execute("INSERT INTO t (n) VALUES (99)")
                raise KeyboardInterrupt

            with pytest.raises(KeyboardInterrupt):
                await db.write(interrupted)
            await db.write(lambda conn: conn.execute("INSERT INTO t (n) VALUES (1)"))
            return await db.read(lambda conn: [r[0] for r in conn.execute("SELECT n FROM t")])
        finally:
            await db.close()

    assert asyncio.run(main()) == [1]


class _Syncs:
    """os.fdatasync as the system does it, each call noted: which file (device, inode) and its size then; with
    `hold`, the first call waits until the test lets it go; with `fail`, calls fail as a dying disk's would."""

    def __init__(self, monkeypatch):
        self.real = os.fdatasync
        self.calls: list[tuple[tuple[int, int], int]] = []
        self.hold: threading.Event | None = None
        self.started = threading.Event()
        self.fail = False
        monkeypatch.setattr(os, "fdatasync", self)

    def __call__(self, fd):
        found = os.fstat(fd)
        self.started.set()
        if self.hold is not None:
            self.hold.wait(10)
        if self.fail:
            raise OSError(errno.EIO, "Input/output error")
        self.real(fd)
        self.calls.append(((found.st_dev, found.st_ino), found.st_size))

    def of(self, path) -> list[int]:
        found = os.stat(path)
        return [size for key, size in self.calls if key == (found.st_dev, found.st_ino)]


def _insert(conn, title="c"):
    conn.execute("CREATE TABLE IF NOT EXISTS notes (id INTEGER PRIMARY KEY, title TEXT NOT NULL)")
    return conn.execute("INSERT INTO notes (title) VALUES (?)", (title,)).lastrowid


@pytest.mark.parametrize("sync", [None, "full"])
def test_a_write_is_answered_once_the_log_holding_it_is_synced(tmp_path, monkeypatch, sync):
    """As served (CHECKIN_SQLITE_SYNC=full, the default): the writer commits without waiting for the disk and a
    thread of its own syncs the log behind it; a write's answer waits for a sync that began after its commit, one
    that covered the log as far as the commit wrote it."""
    syncs = _Syncs(monkeypatch)
    path = tmp_path / "s.sqlite3"

    async def main():
        db = await (open_database(path) if sync is None else open_database(path, sqlite_sync=sync))
        try:
            syncs.calls.clear()
            syncs.hold = threading.Event()
            syncs.started.clear()
            write = asyncio.ensure_future(db.write(_insert))
            await asyncio.to_thread(syncs.started.wait, 10)  # committed; its sync under way, and held
            await asyncio.sleep(0.05)
            assert not write.done()  # not told before the disk has it
            committed = os.stat(f"{path}-wal").st_size
            syncs.hold.set()
            assert await write > 0
            assert syncs.of(f"{path}-wal") and max(syncs.of(f"{path}-wal")) >= committed > 0
            return await db.write(lambda conn: conn.execute("PRAGMA synchronous").fetchone()[0])
        finally:
            syncs.hold.set()
            await db.close()

    assert asyncio.run(main()) == 1  # NORMAL on the writer's connection: the syncer does the sync


def test_without_the_sync_nothing_waits_for_the_disk(tmp_path, monkeypatch):
    """CHECKIN_SQLITE_SYNC=normal (to measure what the sync costs): no sync of the log behind the writes."""
    syncs = _Syncs(monkeypatch)
    path = tmp_path / "s.sqlite3"

    async def main():
        db = await open_database(path, sqlite_sync="normal")
        try:
            syncs.calls.clear()
            for _ in range(3):
                await db.write(_insert)
        finally:
            await db.close()

    asyncio.run(main())
    assert syncs.calls == []


def test_a_commit_the_disk_could_not_sync_is_not_acknowledged(tmp_path, monkeypatch):
    """A sync that fails (a dying disk): the writes it was to cover are answered with an error, not as stored (a
    phone keeps such a scan and sends it again with its nonce); the store goes on once the disk does."""
    syncs = _Syncs(monkeypatch)

    async def main():
        db = await open_database(tmp_path / "s.sqlite3")
        try:
            syncs.fail = True
            with pytest.raises(sqlite3.OperationalError, match="could not be synced to the disk"):
                await db.write(_insert, "lost?")
            syncs.fail = False
            assert await db.write(_insert, "after") > 0
            return await db.read(lambda conn: [r[0] for r in conn.execute("SELECT title FROM notes ORDER BY id")])
        finally:
            await db.close()

    # Committed but not known to be on the disk: it may be there (as here) or not after a power cut.
    assert asyncio.run(main())[-1] == "after"


def test_a_server_without_the_sync_says_so_when_it_starts(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHECKIN_")}
    env.update(CHECKIN_DATA_DIR=str(tmp_path), CHECKIN_DB=str(tmp_path / "d.sqlite3"), CHECKIN_SQLITE_SYNC="normal",
               CHECKIN_DRAIN_SECONDS="1")
    port, log = free_port(), tmp_path / "serve.log"
    with log.open("wb") as out:
        server = subprocess.Popen([sys.executable, "-m", "checkin", "serve", "--port", str(port)], env=env,
                                  stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_until(lambda: _answers(f"http://127.0.0.1:{port}/healthz"), 30, "the server did not start")
    finally:
        server.terminate()
        server.wait(30)
    assert "CHECKIN_SQLITE_SYNC=normal: commits are not synced to the disk; a power cut may lose" in log.read_text()


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False
