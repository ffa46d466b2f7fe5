"""The door's API for group check-in (units wing), mounted under /api/v1 beside the scans: the leader's unit for
the session, and one tick at a time through the one scan function. The leader's code travels in the body, never
in a URL."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from ..bodies import API, limit, read_json
from ..door.payloads import optional_int, parse_scan
from ..errors import Problem
from ..units import group
from ..web import services
from .api import usable_device




async def _body(request: Request, now):
    data = await read_json(request)
    if data.get("code") is None:
        raise Problem(422, "code_missing", "Send the leader's scanned badge in 'code'.", field="code")
    body = parse_scan({k: data.get(k) for k in ("code", "nonce", "session_id") if data.get(k) is not None}, now,
                      ("api",))
    return data, body


async def group_view(request: Request) -> JSONResponse:
    svc = services(request)
    now = svc.now()
    device = await usable_device(request, now)
    _data, body = await _body(request, now)
    view = await svc.db.read(group.read_group, device.course_id, body.code, body.session_id, now)
    return JSONResponse(view.as_json())


async def group_checkin(request: Request) -> JSONResponse:
    svc = services(request)
    now = svc.now()
    with svc.broadcaster.give_way():
        device = await usable_device(request, now)
        data, body = await _body(request, now)
        enrolment_id = optional_int(data, "participant_id")
        if enrolment_id is None:
            raise Problem(422, "participant_missing", "Send the ticked person's 'participant_id'.",
                          field="participant_id")
        outcome = await svc.db.write(group.group_checkin_tx, device.course_id, device.id, body.code, enrolment_id,
                                     body.session_id, body.nonce, now)
    if outcome.event is not None:
        svc.broadcaster.publish(outcome.event)
    return JSONResponse(outcome.as_json())


routes = [
    Route("/groups", group_view, methods=["POST"], name="group_view", middleware=limit(API)),
    Route("/groups/checkins", group_checkin, methods=["POST"], name="group_checkin", middleware=limit(API)),
]


async def group_page(request: Request):
    """The usher's group check-in page: no personal data in it; the phone's token unlocks the API it calls."""
    from ..i18n import gettext as _
    from ..web import render

    texts = {"checked_in": _("checked in"), "checked_in_late": _("checked in, late"),
             "already_checked_in": _("already checked in"), "session_not_open": _("the session is not open yet"),
             "session_closed": _("the session is over"), "no_session": _("no session now"),
             "badge_revoked": _("badge revoked"), "undone": _("check-in undone"),
             "no_session_title": _("No session now."),
             "not_a_group_leader": _("This badge is not a unit leader's badge on this course: scan each person's "
                                     "badge."),
             "group_checkin_off": _("Group check-in is off for this course: scan each person's badge.")}
    texts["no_session"] = texts["no_session_title"]
    return render(request, "units/usher/group.html", {"texts": texts})


page_routes = [Route("/usher/group", group_page, name="group_page")]
