"""POST /api/v1/scans from a paired phone, answered ahead of the router.

A scan is the busiest request there is and the smallest: deciding and recording it costs less CPU than
Starlette's middleware layers, routing, Request object and Response class around it (bench/scan_load.py
measured the difference). So this plain ASGI layer, the outermost of the app's own, answers exactly that
method and address when the request carries a bearer token, through the same `api.scan_answer` as the routed
handler and with the same answers: the body limit (411/413, then the connection is closed), 400 for what is
not a JSON object, Problems as JSON with their status and headers (a commit the disk could not keep: 503
`not_stored`, as the app's handler says it), the security headers of every answer. Everything else, a scan
without a bearer token included, goes on to the app as usual.
"""

from __future__ import annotations

import json

from .. import bodies
from ..auth import token_of
from ..errors import Problem, not_stored
from ..security import HEADERS
from ..store.sqlite import NotSynced
from .api import scan_answer

PATH = "/api/v1/scans"
_JSON = [(b"content-type", b"application/json")] + HEADERS
# What JSONResponse writes, with the encoder made once (json.dumps with options makes one per call).
_encode = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode


class ScanEndpoint:
    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if (scope["type"] != "http" or scope["method"] != "POST"
                or scope["path"] != scope.get("root_path", "") + PATH):
            return await self.app(scope, receive, send)
        token = None
        for name, value in scope["headers"]:
            if name == b"authorization":
                token = token_of(value.decode("latin-1"))
                break
        if token is None:
            return await self.app(scope, receive, send)
        extra = []
        try:
            try:
                body = await bodies.receive_body(scope, receive, bodies.API)
            except Problem:
                extra = [(b"connection", b"close")]  # the rest of a refused body is still on its way
                raise
            if body is None:
                return  # the phone went away: nothing was read, nothing is recorded
            try:
                status, answer = 200, await scan_answer(scope["app"].state.services, token, bodies.json_object(body))
            except NotSynced:
                raise not_stored() from None
        except Problem as problem:
            status, answer = problem.status, problem.as_json()
            extra += [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in problem.headers.items()]
        content = _encode(answer).encode("utf-8")
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-length", str(len(content)).encode()), *_JSON, *extra]})
        await send({"type": "http.response.body", "body": content})
