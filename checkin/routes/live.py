"""Live attendance for organisers: the event stream, the big-screen dashboard, and the unit x session view."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from ..course import attendance
from ..live import dashboard
from ..live.broadcast import Broadcaster
from ..clock import Clock
from ..errors import Problem
from ..sign_in import current_session
from ..text import whole_number
from ..store import courses, people, reports, scans, sign_ins
from ..store.db import Database
from ..web import render
from ..units.live import unit_views
from .organiser_base import Page, organiser_page

# A "ping" event this often keeps proxies and NAT tables from closing an idle stream, and lets the page tell
# a quiet course from a dead connection (EventSource hides comment lines from scripts, so not a comment).
HEARTBEAT_SECONDS = 15.0
PING = b"event: ping\ndata: {}\n\n"
# The last thing a stream says when its sign-in session has ended (signed out, password changed, account
# disabled, expired): the page stops reconnecting and asks to sign in again.
SIGNED_OUT = b"event: signed_out\ndata: {}\n\n"
RETRY_MS = 2000  # how long EventSource waits before reconnecting
# The last thing a stream says when its server is going away (draining): come back soon, to another instance.
LEAVING = b"retry: 250\n\n"
REPLAY_BATCH = 500


@organiser_page(redirect=False)
async def course_events(page: Page) -> Response:
    svc, course = page.svc, page.course
    last_id = _last_event_id(page.request)
    session = await current_session(page.request, svc.db, page.now)
    return StreamingResponse(
        event_stream(svc.db, svc.broadcaster, course.id, last_id, session_id=session.id, clock=svc.clock),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


async def event_stream(
    db: Database, broadcaster: Broadcaster, course_id: int, last_id: int | None, *,
    session_id: int | None = None, clock: Clock | None = None,
) -> AsyncIterator[bytes]:
    """Replay what the client missed (after last_id), then live events, with nothing lost and nothing twice.

    Subscribe first, then read the log: an event committed in between is both in the log and handed to the
    subscription, and is sent once because the subscription skips events at or below the last id sent.
    Reading the log first and subscribing after would lose an event committed in that gap.

    The stream ends when the sign-in session that opened it ends: at once when this server ended it (or, on
    PostgreSQL, another server: relay.py hears of it), otherwise at the next heartbeat, when the database says so
    (the command line, or the session's expiry).
    """
    async with broadcaster.subscribe(course_id, session_id, heartbeat=HEARTBEAT_SECONDS) as subscription:
        yield f"retry: {RETRY_MS}\n\n".encode()
        if last_id is None:  # a fresh client: only what happens from now on
            last_id = await db.read(scans.get_last_event_id, course_id)
        while True:
            missed = await db.read(scans.list_events, course_id, last_id, REPLAY_BATCH)
            if missed:
                yield b"".join(broadcaster.frame(e) for e in missed)
                last_id = missed[-1].id
            if len(missed) < REPLAY_BATCH:
                break
        subscription.live = True
        # A subscriber that fell too far behind is dropped by the broadcaster; ending the stream makes the
        # browser reconnect with its Last-Event-ID and catch up from the log.
        while (sent := await subscription.next(last_id)) is not None:
            data, last_id = sent
            if not data and session_id is not None and clock is not None:  # a heartbeat: is the session still live?
                await _end_streams_of_ended_sessions(db, broadcaster, clock())
                if subscription.ended:
                    break
            yield data or PING
        if subscription.ended:
            yield SIGNED_OUT
        elif broadcaster.closing:
            yield LEAVING


async def _end_streams_of_ended_sessions(db: Database, broadcaster: Broadcaster, now) -> None:
    """One read for all of this server's streams, however many reach their heartbeat together: the sessions
    holding a stream open that are no longer live end their streams."""
    if time.monotonic() - broadcaster.sessions_checked_at < HEARTBEAT_SECONDS / 2:
        return
    broadcaster.sessions_checked_at = time.monotonic()
    if open_sessions := broadcaster.open_sessions():
        broadcaster.end_sessions(await db.read(sign_ins.list_ended_sessions, open_sessions, now))


def _last_event_id(request: Request) -> int | None:
    """The browser's Last-Event-ID header (sent on its own reconnects) wins over ?last_event_id=."""
    raw = request.headers.get("last-event-id") or request.query_params.get("last_event_id")
    if raw is None or raw == "":
        return None
    last_id = whole_number(raw, max_digits=18)
    if last_id is None:
        raise Problem(422, "bad_last_event_id", "Last-Event-ID must be a whole number.", field="last_event_id")
    return last_id


@organiser_page
async def live_dashboard(page: Page) -> Response:
    return render(page.request, "live/dashboard.html", {"course": page.course,
                                                        "heartbeat_ms": int(HEARTBEAT_SECONDS * 1000)})


@organiser_page(redirect=False)
async def live_snapshot(page: Page) -> JSONResponse:
    svc, course = page.svc, page.course
    state = await svc.db.read(reports.read_live_state, course.id)
    snapshot = dashboard.snapshot(course, state, svc.now())
    # Units wing: each invited unit's name links to that unit's live view.
    snapshot["unit_views"] = {name: f"/courses/{course.id}/units/{summoned_id}/live"
                              for name, summoned_id in (await svc.db.read(unit_views, course.id)).items()}
    return JSONResponse(snapshot, headers={"Cache-Control": "no-store"})


@organiser_page
async def attendance_matrix(page: Page) -> Response:
    svc, course, request = page.svc, page.course, page.request
    sessions = await svc.db.read(courses.list_sessions, course.id)
    roster = await svc.db.read(people.list_roster, course.id)
    rows = await svc.db.read(scans.list_attendance, course.id)
    now = svc.now()
    result = attendance.people_attendance(sessions, roster, rows, now)
    chosen_unit = request.query_params.get("unit")
    chosen_session = _chosen_session(request, sessions)
    missing = None
    if chosen_unit is not None or chosen_session is not None:
        # For a unit across the day, sessions that have not started yet are not "missed".
        started = [s for s in sessions if s.starts_at <= now] or sessions
        missing = attendance.missing_people(result, started, unit=chosen_unit, session=chosen_session)
    return render(request, "live/attendance.html", {
        "course": course, "sessions": sessions, "matrix": attendance.unit_counts(sessions, result),
        "totals": attendance.session_counts(sessions, result), "enrolled": len(roster),
        "chosen_unit": chosen_unit, "chosen_session": chosen_session, "missing": missing,
        "unit_views": await svc.db.read(unit_views, course.id),  # units wing: each invited unit's live view
    })


def _chosen_session(request: Request, sessions):
    raw = request.query_params.get("session")
    if not raw:
        return None
    for session in sessions:
        if str(session.id) == raw:
            return session
    raise Problem(404, "unknown_session", "This session is not part of the course.")


routes = [
    Route("/courses/{course_id:int}/events", course_events, name="course_events"),
    Route("/courses/{course_id:int}/live", live_dashboard, name="live_dashboard"),
    Route("/courses/{course_id:int}/live.json", live_snapshot, name="live_snapshot"),
    Route("/courses/{course_id:int}/attendance", attendance_matrix, name="attendance_matrix"),
]
