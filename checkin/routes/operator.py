"""For the operator and the load balancer: liveness, readiness, and the instance's metrics."""

from __future__ import annotations

import asyncio
import hmac
import ipaddress

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ..errors import Problem
from ..metrics import CONTENT_TYPE
from ..web import services

READY_TIMEOUT = 2.0  # a database slower than this to answer SELECT 1 counts as not reachable


async def health(request: Request) -> Response:
    """Alive: the process answers. (Readiness, for the load balancer, is /readyz.)"""
    return JSONResponse({"status": "ok"})


async def ready(request: Request) -> Response:
    """Ready for traffic: not draining, the database answers, and (PostgreSQL) the event listener is connected.
    A load balancer sends nothing to an instance answering 503 here."""
    svc = services(request)
    checks = {"draining": svc.draining, "database": await _database_answers(svc), "listener": svc.broadcaster.listening}
    ok = not checks["draining"] and checks["database"] and checks["listener"]
    return JSONResponse({"status": "ready" if ok else "not_ready", "instance": svc.settings.instance, **checks},
                        status_code=200 if ok else 503, headers={"Cache-Control": "no-store"})


async def _database_answers(svc) -> bool:
    try:
        async with asyncio.timeout(READY_TIMEOUT):
            await svc.db.read(lambda conn: conn.execute("SELECT 1").fetchone())
        return True
    except Exception:
        return False


async def metrics(request: Request) -> Response:
    svc = services(request)
    if not _operator(request, svc.settings):
        raise Problem(403, "not_operator", "Metrics are for the operator: send CHECKIN_METRICS_TOKEN as a bearer "
                                           "token, or ask from an address in CHECKIN_METRICS_ALLOW.")
    return Response(svc.metrics.render(), media_type=CONTENT_TYPE, headers={"Cache-Control": "no-store"})


def _operator(request: Request, settings) -> bool:
    token = settings.metrics_token
    if token:
        given = request.headers.get("authorization", "")
        if given[:7].lower() == "bearer " and hmac.compare_digest(given[7:].strip().encode(), token.encode()):
            return True
    client = request.client.host if request.client else ""
    try:
        address = ipaddress.ip_address(client)
    except ValueError:
        return False
    for allowed in settings.metrics_allow.split(","):
        allowed = allowed.strip()
        if allowed:
            try:
                if address in ipaddress.ip_network(allowed, strict=False):
                    return True
            except ValueError:
                continue
    return False


routes = [
    Route("/healthz", health, name="health"),
    Route("/readyz", ready, name="ready"),
    Route("/metrics", metrics, name="metrics"),
]
