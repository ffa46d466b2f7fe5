"""The store's write path: writes that arrive together share one transaction, and one that fails
leaves no trace while the others stand."""

from __future__ import annotations

import asyncio

import pytest

from checkin.store.db import migrate
from checkin.store.sqlite import SQLiteDatabase as Database


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
