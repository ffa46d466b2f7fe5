"""Response headers every page gets: a strict Content-Security-Policy and no referrer leaks."""

from __future__ import annotations

CSP = (
    "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; img-src 'self' data: blob:; "
    "connect-src 'self'; media-src 'self' blob: mediastream:; worker-src 'self' blob:; font-src 'self'; "
    "frame-ancestors 'none'; base-uri 'self'; form-action 'self'"
)
HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    # Badge pages carry their code in the path: never send it on to another site.
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
]


class SecurityHeadersMiddleware:
    """Pure ASGI, so streaming responses pass straight through."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                present = {name for name, _ in message.get("headers", [])}
                message.setdefault("headers", [])
                message["headers"] = list(message["headers"]) + [h for h in HEADERS if h[0] not in present]
            await send(message)

        await self.app(scope, receive, send_with_headers)


class PagesOnly:
    """Apply a middleware to everything but the door's API calls.

    A request under /api/ that carries a bearer token comes from an usher's phone: it has no cookie
    session and no page language, so the session and language middlewares would be pure cost on the
    busiest path there is. Organiser API calls (cookie, no bearer) still get them.
    """

    def __init__(self, app, middleware, **options):
        self.app = app
        self.wrapped = middleware(app, **options)

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and scope["path"].startswith("/api/") and _has_bearer(scope):
            return await self.app(scope, receive, send)
        return await self.wrapped(scope, receive, send)


def _has_bearer(scope) -> bool:
    for name, value in scope.get("headers") or ():
        if name == b"authorization":
            return value[:7].lower() == b"bearer "
    return False
