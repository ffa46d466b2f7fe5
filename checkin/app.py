"""create_app(settings): routes, middleware, lifespan and error handlers. No logic lives here."""

from __future__ import annotations

import asyncio
import threading
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

from . import bodies, i18n
from .auth import DeviceCache
from .documents.badge_images import BadgeImages
from .door import batch
from .live.broadcast import Broadcaster
from .metrics import Metrics
from .live.relay import Relay
from .clock import Clock, system_clock
from .errors import Problem
from .routes import completion as completion_routes
from .routes import completion_participant
from .routes import api, operator, badges, badges_print, badges_send, devices, live, organiser, public, reports, usher
from .routes import records as records_routes, records_participant, records_report
from .routes import units_api, units_directory, units_link, units_organiser
from .records import retention
from .routes.scan_endpoint import ScanEndpoint
from .security import PagesOnly, SecurityHeadersMiddleware
from .session_cookie import SessionCookieMiddleware
from .settings import Settings
from .sign_in import SignInLimiter
from .store.db import open_database
from .store.sqlite import NotSynced
from .web import (Services, http_error_handler, make_templates, not_synced_handler, overflow_handler, problem_handler,
                  server_error_handler)
from .documents.workers import WorkerLimits, Workers, warm_up


def create_app(settings: Settings, *, clock: Clock = system_clock) -> Starlette:
    settings = settings.with_secret()

    @asynccontextmanager
    async def lifespan(app: Starlette):
        i18n.load()
        db = await open_database(settings.database, pool_size=settings.database_pool_size, name=settings.instance,
                                 sqlite_sync=settings.sqlite_sync)
        device_cache = DeviceCache()
        relay = Relay(db, Broadcaster(), listen_url=settings.database_url or None,
                      on_device_change=lambda _device: device_cache.clear())
        await relay.start()
        metrics = Metrics(settings.instance)
        app.state.services = Services(
            settings=settings, db=db, broadcaster=relay, clock=clock,
            templates=make_templates(settings), devices=device_cache, sign_in=SignInLimiter(db), metrics=metrics,
            workers=Workers(WorkerLimits(settings.worker_memory_mb, settings.worker_seconds,
                                         settings.workers_at_once, settings.worker_wait_seconds)),
            badge_images=BadgeImages(settings.worker_memory_mb),
        )
        metrics.reading("checkin_event_streams", "Event streams open on this instance.", relay.streams)
        metrics.reading("checkin_listener_up", "1 when the PostgreSQL event listener is connected.",
                        lambda: relay.listening)
        metrics.reading("checkin_store_busy", "Writes waiting for the SQLite writer, or PostgreSQL connections in use.",
                        db.busy)
        batch.batcher_of(db).observe = metrics.door_batch  # the door's batches (PostgreSQL) counted here
        # The fork server's imports take a few seconds on a busy machine: not while the first organiser waits.
        threading.Thread(target=warm_up, name="checkin-warm-up", daemon=True).start()
        daily_retention = asyncio.create_task(retention.run_daily(db, clock, settings.time_zone), name="retention")
        try:
            yield
        finally:
            daily_retention.cancel()
            await relay.stop()
            app.state.services.badge_images.close()
            await db.close()

    return Starlette(
        routes=[
            # The door's API first: every scan would otherwise be matched against each page route.
            Mount("/api/v1", routes=[*api.routes, *units_api.routes]),
            *operator.routes,
            *public.routes,
            *organiser.routes,
            *reports.routes,
            *live.routes,
            *usher.routes,
            *devices.routes,
            *badges.routes,
            *badges_print.routes,
            *badges_send.routes,
            *records_routes.routes,
            *records_participant.routes,
            *records_report.routes,
            *units_organiser.routes,
            *units_directory.routes,
            *units_link.routes,
            *units_api.page_routes,
            *completion_routes.routes,
            *completion_participant.routes,
            Mount("/static", StaticFiles(directory=str(settings.static_dir)), name="static"),
        ],
        middleware=[
            Middleware(ScanEndpoint),  # a phone's scan, the busiest request, ahead of the router (scan_endpoint.py)
            Middleware(bodies.BodyLimits, default=bodies.FORM),
            Middleware(SecurityHeadersMiddleware),
            # Secure whenever the request came over HTTPS (directly, or through a trusted proxy's X-Forwarded-Proto).
            Middleware(PagesOnly, middleware=SessionCookieMiddleware, secret_key=settings.secret_key),
            Middleware(PagesOnly, middleware=i18n.LanguageMiddleware, default=settings.language),
        ],
        exception_handlers={
            Problem: problem_handler,
            HTTPException: http_error_handler,
            OverflowError: overflow_handler,
            NotSynced: not_synced_handler,  # a commit the disk could not keep: 503 not_stored
            Exception: server_error_handler,
        },
        lifespan=lifespan,
    )
