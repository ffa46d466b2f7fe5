"""The PostgreSQL floor for bench/scan_load.py --database-url: a bare Starlette endpoint doing the minimum a
scan must do, on the same PostgreSQL as the server it is compared with.

One lookup of the badge, one insert into a table of its own (bench_floor_scans, committed: autocommit), through
psycopg 3 with a psycopg_pool ConnectionPool used from a thread pool of the pool's size, as
checkin/store/postgres.py does. Served by the same uvicorn settings as `checkin serve`, so the ratio compares
our work with the least possible of its kind.

    FLOOR_DATABASE_URL=postgresql://... uvicorn floor_pg_app:app --app-dir bench --port 9000
"""

from __future__ import annotations

import asyncio
import json
import os
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager

import psycopg
from psycopg_pool import ConnectionPool
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

URL = os.environ["FLOOR_DATABASE_URL"]
MAX_SIZE = 12  # checkin/store/postgres.py's default pool size


@asynccontextmanager
async def lifespan(app):
    with psycopg.connect(URL, autocommit=True) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS bench_floor_scans"
                     " (id BIGSERIAL PRIMARY KEY, code TEXT NOT NULL, found BOOLEAN NOT NULL)")
    pool = ConnectionPool(URL, min_size=2, max_size=MAX_SIZE, open=False, kwargs={"autocommit": True},
                          name="floor", timeout=10.0)
    threads = ThreadPoolExecutor(MAX_SIZE, thread_name_prefix="floor-pg")
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(threads, pool.open, True, 15.0)
    app.state.pool, app.state.threads = pool, threads
    yield
    await loop.run_in_executor(threads, pool.close)
    threads.shutdown(wait=False)


def _scan(pool: ConnectionPool, code: str) -> bool:
    with pool.connection() as conn:
        row = conn.execute("SELECT enrolment_id FROM badges WHERE code = %s", (code,)).fetchone()
        conn.execute("INSERT INTO bench_floor_scans (code, found) VALUES (%s, %s)", (code, row is not None))
    return row is not None


async def scan(request: Request) -> JSONResponse:
    code = json.loads(await request.body())["code"]
    found = await asyncio.get_running_loop().run_in_executor(request.app.state.threads, _scan,
                                                             request.app.state.pool, code)
    return JSONResponse({"found": found})


app = Starlette(routes=[Route("/scan", scan, methods=["POST"])], lifespan=lifespan)
