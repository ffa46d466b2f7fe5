"""The JSON API under /api/v1: scans and search for usher devices, attendance for organisers."""

from __future__ import annotations

import gzip
import json
import time
from datetime import timedelta

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ..course import attendance
from ..door import offline, openapi, rules, scanning
from ..bodies import API, STATUS_REPORT, limit, read_json
from ..auth import bearer_token, device_for_token, device_refusal_problem, require_device
from ..errors import Problem
from ..door.payloads import parse_scan
from ..door.scanning import ScanInput
from ..store import completion, courses, pairings, people, scans
from ..store import offline as offline_store
from ..text import fold
from ..web import Services, services
from .guards import require_course, require_organiser

DEVICE_REFUSALS = (rules.Reason.DEVICE_REVOKED, rules.Reason.DEVICE_EXPIRED)
SEARCH_MIN = 3


async def create_scan(request: Request) -> JSONResponse:
    """POST /api/v1/scans as routed: reached only by a request without a bearer token (a 401), since every
    device's scan is answered by scan_endpoint.ScanEndpoint ahead of the router, through scan_answer below."""
    return JSONResponse(await scan_answer(services(request), bearer_token(request), await read_json(request)))


async def scan_answer(svc: Services, token: str | None, data: dict) -> dict:
    """A device's scan: who is scanning, what was sent, the one scan function, the answer's JSON."""
    started = time.perf_counter()
    now = svc.now()
    with svc.broadcaster.give_way():  # the big screens wait while the usher does (see broadcast.py)
        device = await device_for_token(token, svc.db, svc.devices)
        body = parse_scan(data, now, scanning.DEVICE_METHODS)
        scan = ScanInput(
            course_id=device.course_id, method=body.method, code=body.code, enrolment_id=body.enrolment_id,
            session_id=body.session_id, nonce=body.nonce, device_time=body.device_time, device_id=device.id,
            sync_grace=timedelta(minutes=svc.settings.device_sync_grace_minutes), direction=body.direction,
        )
        outcome = await scanning.record_scan(svc.db, svc.broadcaster, scan, now)
    svc.metrics.scanned(outcome.reason, scan.method, time.perf_counter() - started)
    if outcome.reason in DEVICE_REFUSALS:
        raise device_refusal_problem(outcome.reason)
    return outcome.as_json()


async def undo_scan(request: Request) -> JSONResponse:
    svc = services(request)
    now = svc.now()
    device = await usable_device(request, now)
    outcome = await scanning.undo_scan(
        svc.db, svc.broadcaster, device.course_id, request.path_params["scan_id"], now,
        device_id=device.id, device_window=timedelta(seconds=svc.settings.device_undo_seconds),
    )
    return JSONResponse({"scan_id": outcome.scan_id, "undone": True, "undone_at": scanning.iso(outcome.undone_at)})


async def search_participants(request: Request) -> JSONResponse:
    svc = services(request)
    device = await usable_device(request, svc.now())
    query = request.query_params.get("q", "")
    if len(fold(query).replace(" ", "")) < SEARCH_MIN or len(query) > 100:
        raise Problem(422, "query_too_short", f"Type at least {SEARCH_MIN} letters of the name (at most 100).", field="q")
    matches = await svc.db.read(people.search_enrolments, device.course_id, query, 10)
    return JSONResponse({"results": [
        {"participant_id": m.enrolment_id, "name": m.full_name, "unit": m.unit, "position": m.position}
        for m in matches
    ]})


async def current_device(request: Request) -> JSONResponse:
    svc = services(request)
    now = svc.now()
    device = await usable_device(request, now)
    course = await svc.db.read(courses.get_course, device.course_id)
    sessions = await svc.db.read(courses.list_sessions, device.course_id)
    exit_on, _exit_rules = await svc.db.read(completion.exit_rules, device.course_id)  # the scanner offers Leaving
    current = rules.pick_session(sessions, now)
    return JSONResponse({
        "device": {"id": device.id, "label": device.label, "expires_at": scanning.iso(device.expires_at)},
        "course": {"id": course.id, "title": course.title, "date": course.course_date.isoformat(),
                   "venue": course.venue, "time_zone": course.time_zone, "exit_scans": exit_on},
        "sessions": [_session_json(s) for s in sessions],
        "current_session_id": current.id if current else None,
        "server_time": scanning.iso(now),
    })


async def session_count(request: Request) -> JSONResponse:
    """The door's counter: how many are in the session, and how many this device let in."""
    svc = services(request)
    device = await usable_device(request, svc.now())
    session_id = request.path_params["session_id"]
    sessions = await svc.db.read(courses.list_sessions, device.course_id)
    if not any(s.id == session_id for s in sessions):
        raise Problem(404, "unknown_session", f"Session {session_id} is not a session of this device's course.")
    tally = await svc.db.read(pairings.count_session, session_id, device.id)
    return JSONResponse({"session_id": session_id, "checked_in": tally.checked_in, "this_device": tally.by_device})


async def course_attendance(request: Request) -> JSONResponse:
    svc = services(request)
    organiser = await require_organiser(request)
    course = await require_course(request, organiser, request.path_params["course_id"])
    sessions = await svc.db.read(courses.list_sessions, course.id)
    roster = await svc.db.read(people.list_roster, course.id)
    rows = await svc.db.read(scans.list_attendance, course.id)
    result = attendance.people_attendance(sessions, roster, rows, svc.now())
    counts = attendance.session_counts(sessions, result)
    return JSONResponse({
        "course": {"id": course.id, "title": course.title, "date": course.course_date.isoformat()},
        "sessions": [
            {**_session_json(s), "counts": {"enrolled": counts[s.id].enrolled, **counts[s.id].by_status}}
            for s in sessions
        ],
        "participants": [
            {
                "participant_id": p.person.enrolment_id, "name": p.person.full_name, "unit": p.person.unit,
                "position": p.person.position,
                "attendance": {
                    str(s.id): {"status": p.statuses[s.id], "checked_in_at": scanning.iso(p.times[s.id])}
                    for s in sessions
                },
            }
            for p in result
        ],
    })


async def offline_copy(request: Request) -> Response:
    """The phone's offline copy of its course (whole, or the delta after ?since=CURSOR), gzipped."""
    svc = services(request)
    now = svc.now()
    device = await usable_device(request, now)
    copy_request = offline.CopyRequest(
        device=device, since=request.query_params.get("since"), now=now,
        salt=offline.course_salt(svc.settings.secret_key, device.course_id),
    )
    data = await svc.db.read(offline.build_copy_tx, copy_request)
    await svc.db.write(offline_store.update_copy_fetched, device.id, now)
    body = json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    # Names and badges of a whole course: no shared cache may keep them.
    headers = {"Cache-Control": "no-store", "Vary": "Accept-Encoding"}
    if "gzip" in request.headers.get("accept-encoding", "") and len(body) > 1024:
        body = gzip.compress(body, compresslevel=6)
        headers["Content-Encoding"] = "gzip"
    return Response(body, media_type="application/json", headers=headers)


async def device_status(request: Request) -> JSONResponse:
    """A phone reports its offline queue, and the scans it admitted offline that the server overruled."""
    svc = services(request)
    now = svc.now()
    device = await usable_device(request, now)
    report = offline.parse_status(await read_json(request))
    await svc.db.write(offline.record_status_tx, device.id, report, now)
    return JSONResponse({"recorded": True, "server_time": scanning.iso(now)})


async def openapi_document(request: Request) -> JSONResponse:
    return JSONResponse(openapi.document())


async def usable_device(request: Request, now):
    """The paired phone of this request, refused (401/403 with its reason) if it may not scan now."""
    svc = services(request)
    device = await require_device(request, svc.db, svc.devices, now)
    refusal = device.refusal(now)
    if refusal:
        raise device_refusal_problem(refusal)
    return device


def _session_json(s) -> dict:
    return {
        "id": s.id, "title": s.title, "position": s.position, "starts_at": scanning.iso(s.starts_at),
        "ends_at": scanning.iso(s.ends_at), "opens_at": scanning.iso(s.opens_at),
        "late_from": scanning.iso(s.late_from),
    }


routes = [
    Route("/scans", create_scan, methods=["POST"], name="create_scan", middleware=limit(API)),
    Route("/scans/{scan_id:int}/undo", undo_scan, methods=["POST"], name="undo_scan"),
    Route("/participants", search_participants, methods=["GET"], name="search_participants"),
    Route("/device", current_device, methods=["GET"], name="current_device"),
    Route("/device/status", device_status, methods=["POST"], name="device_status", middleware=limit(STATUS_REPORT)),
    Route("/offline", offline_copy, methods=["GET"], name="offline_copy"),
    Route("/sessions/{session_id:int}/count", session_count, methods=["GET"], name="session_count"),
    Route("/courses/{course_id:int}/attendance", course_attendance, methods=["GET"], name="course_attendance"),
    Route("/openapi.json", openapi_document, methods=["GET"], name="openapi_document"),
]
