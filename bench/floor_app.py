"""The floor for bench/scan_load.py: a bare Starlette endpoint doing the minimum a scan must do.

One lookup, one insert into SQLite with WAL, one commit, on one aiosqlite connection. Served by the
same uvicorn settings as `checkin serve`, so the ratio compares our work with the least possible.
"""

from __future__ import annotations

import json
import os
from contextlib import asynccontextmanager

import aiosqlite
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

DB = os.environ["FLOOR_DB"]


@asynccontextmanager
async def lifespan(app):
    conn = await aiosqlite.connect(DB)
    for pragma in ("PRAGMA journal_mode=WAL", "PRAGMA synchronous=NORMAL", "PRAGMA busy_timeout=5000"):
        await conn.execute(pragma)
    await conn.execute("CREATE TABLE IF NOT EXISTS floor_scans (id INTEGER PRIMARY KEY, code TEXT, found INTEGER)")
    app.state.conn = conn
    yield
    await conn.close()


async def scan(request: Request) -> JSONResponse:
    code = json.loads(await request.body())["code"]
    conn = request.app.state.conn
    async with conn.execute("SELECT enrolment_id FROM badges WHERE code = ?", (code,)) as cursor:
        row = await cursor.fetchone()
    await conn.execute("INSERT INTO floor_scans (code, found) VALUES (?, ?)", (code, row is not None))
    await conn.commit()
    return JSONResponse({"found": row is not None})


app = Starlette(routes=[Route("/scan", scan, methods=["POST"])], lifespan=lifespan)
