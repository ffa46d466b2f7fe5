"""The participant's own training record, reached from any of their badge links: their courses and
certificates, nothing of anyone else (the code is the key, as for the badge page)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..records import record
from ..store import records
from ..web import services
from .badges import CODE, _missing, _page


async def own_record(request: Request) -> Response:
    code = request.path_params["code"]
    svc = services(request)
    person_id = await svc.db.read(records.get_badge_person, code) if CODE.match(code) else None
    found = await svc.db.read(record.read_own_record, person_id, svc.now()) if person_id else None
    if found is None:
        return _missing(request)
    return _page(request, "participant/record.html", {"record": found, "code": code})


routes = [Route("/b/{code}/record", own_record, name="own_record")]
