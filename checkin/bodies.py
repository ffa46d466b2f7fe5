"""Request bodies: a size limit per route, counted while the body arrives, before anything parses or spools it.

`BodyLimits` (app-wide, pure ASGI) wraps every request's `receive` with a counter and holds the app's default
limit; a route declares its own with `middleware=limit(...)` next to its path. A declared Content-Length over the
limit is refused before a byte is read, a chunked body as soon as it passes the limit: a 413 Problem, answered
like any other error (JSON under /api, the error page elsewhere), with `Connection: close` so that the server
does not go on reading the rest. (Starlette's own `max_body_size` answers a plain-text 413 instead of ours.)

Forms and JSON are read only through `read_form` and `read_json` below, so no handler needs a check of its own.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from starlette.datastructures import FormData, UploadFile
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request

from .errors import Problem
from .text import has_surrogate, whole_number

KB = 1024
FORM = 64 * KB  # the default: an organiser form of up to 200 short fields, in UTF-8 and percent-encoded
SIGN_IN = 8 * KB  # a user name, a password, a pairing code, the CSRF token and the page to go back to
API = 16 * KB  # one scan
STATUS_REPORT = 256 * KB  # a phone's queue report: up to 500 overruled scans, each a nonce and a reason
UPLOAD_SLACK = 64 * KB  # room for the other fields and the multipart framing around an uploaded file

_SCOPE_KEY = "checkin.body_budget"


@dataclass(slots=True)
class _Budget:
    max_bytes: int
    declared: int | None  # the Content-Length; 0 when chunked
    upload: bool = False
    received: int = 0
    checked: bool = False
    refused: bool = False

    def check_declared(self) -> None:
        """Refuse a declared Content-Length over the limit (or one that is not a number) before reading."""
        if self.checked:
            return
        self.checked = True
        if self.declared is None:
            self.refused = True
            raise Problem(411, "length_required", "The request did not say how large it is. Send it again from the page.")
        if self.declared > self.max_bytes:
            raise self.problem()

    def problem(self) -> Problem:
        self.refused = True
        if self.upload:
            return Problem(413, "file_too_large", "This file is larger than the upload limit. Save a smaller file and try again.")
        return Problem(413, "body_too_large", "What was sent is larger than this address accepts. Send less and try again.")


class BodyLimits:
    """Pure ASGI: count every request body against its route's limit (`default` where a route declares none)."""

    def __init__(self, app, default: int):
        self.app = app
        self.default = default

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        budget = scope[_SCOPE_KEY] = _Budget(self.default, _declared_length(scope))

        async def counted_receive():
            budget.check_declared()
            message = await receive()
            if message["type"] == "http.request":
                budget.received += len(message.get("body", b""))
                if budget.received > budget.max_bytes:
                    raise budget.problem()
            return message

        async def closing_send(message):
            # The rest of a refused body is still on its way: close the connection rather than read it.
            if message["type"] == "http.response.start" and budget.refused:
                message = {**message, "headers": [*message.get("headers", []), (b"connection", b"close")]}
            await send(message)

        await self.app(scope, counted_receive, closing_send)


class _RouteLimit:
    def __init__(self, app, max_bytes: int, upload: bool):
        self.app = app
        self.max_bytes = max_bytes
        self.upload = upload

    async def __call__(self, scope, receive, send):
        budget = scope.get(_SCOPE_KEY)
        assert budget is not None, "a route's body limit needs bodies.BodyLimits around the app"
        budget.upload = self.upload
        budget.max_bytes = self.max_bytes
        if self.upload:
            budget.max_bytes += scope["app"].state.services.settings.max_upload_bytes
        budget.check_declared()  # at once, whether or not the handler reads the body
        await self.app(scope, receive, send)


def limit(max_bytes: int) -> list[Middleware]:
    """A route's own body limit: `Route(..., middleware=limit(SIGN_IN))`."""
    return [Middleware(_RouteLimit, max_bytes=max_bytes, upload=False)]


def upload_limit() -> list[Middleware]:
    """A route that takes one file: CHECKIN_MAX_UPLOAD_BYTES plus the form around it; refused as file_too_large."""
    return [Middleware(_RouteLimit, max_bytes=UPLOAD_SLACK, upload=True)]


def _declared_length(scope) -> int | None:
    """The Content-Length, 0 when the body is chunked (counted as it comes), None when it is not a number."""
    for name, value in scope.get("headers") or ():
        if name == b"content-length":
            return whole_number(value.decode("latin-1"))
    return 0


async def read_form(request: Request, *, max_files: int = 0, max_fields: int = 200) -> FormData:
    """The submitted form (urlencoded or multipart), within the route's body limit.

    Text that is not Unicode (a lone surrogate, which a multipart part in UTF-7 can carry) is refused here,
    so that no handler stores what the database cannot encode."""
    try:
        form = await request.form(max_files=max_files, max_fields=max_fields)
    except HTTPException as exc:  # Starlette's refusal of a malformed multipart body, or of too many parts
        raise Problem(400, "invalid_form", "This form could not be read. Reload the page and send it again.") from exc
    for name, value in form.multi_items():
        text = (value.filename or "") if isinstance(value, UploadFile) else value
        if has_surrogate(name) or has_surrogate(text):
            await form.close()
            raise Problem(400, "invalid_form", "This form could not be read. Reload the page and send it again.")
    return form


async def read_json(request: Request) -> dict:
    """The JSON object sent, within the route's body limit; 400 invalid_json for anything else."""
    return json_object(await request.body())


async def receive_body(scope, receive, max_bytes: int) -> bytes | None:
    """The whole body of a request answered ahead of the router (routes/scan_endpoint.py), with the refusals
    BodyLimits and a route's limit give (411, 413: the caller closes the connection after them); None when
    the client went away before sending it."""
    budget = _Budget(max_bytes, _declared_length(scope))
    budget.check_declared()
    body = b""
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return None
        body += message.get("body", b"")
        if len(body) > max_bytes:
            raise budget.problem()
        if not message.get("more_body", False):
            return body


def json_object(body: bytes) -> dict:
    """The JSON object in a request body; 400 invalid_json for anything else."""
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):  # RecursionError: arrays nested thousands deep
        raise Problem(400, "invalid_json", "The request body must be a JSON object in UTF-8.") from None
    if not isinstance(data, dict):
        raise Problem(400, "invalid_json", "The request body must be a JSON object.")
    return data
