"""The browser's session cookie: a small dict (the CSRF token, the sign-in session's id, a notice shown once)
sealed with AES-GCM under a key derived from the secret key, so it can be neither read nor forged, and sent
`Secure` whenever the request came over HTTPS, also through a trusted proxy (uvicorn's proxy headers set the
scheme). Pure ASGI, so event streams pass straight through."""

from __future__ import annotations

import base64
import binascii
import json
import os
import time

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from starlette.datastructures import MutableHeaders
from starlette.requests import HTTPConnection

COOKIE = "checkin_session"
MAX_AGE = 14 * 24 * 3600
MAX_LENGTH = 4096  # what browsers keep of one cookie; anything longer is not ours
REFRESH_SECONDS = 3600  # an unchanged cookie is sent again at most hourly, so that it lives while it is used
_NONCE = 12
_CONTEXT = COOKIE.encode()


class SessionCookieMiddleware:
    def __init__(self, app, secret_key: str, max_age: int = MAX_AGE):
        self.app = app
        self.max_age = max_age
        key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"checkin session cookie v1").derive(
            secret_key.encode("utf-8"))
        self._aead = AESGCM(key)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        raw = HTTPConnection(scope).cookies.get(COOKIE)
        data, issued = self.open(raw) if raw else ({}, 0.0)
        scope["session"] = data
        before = _dump(data)

        async def send_with_cookie(message):
            if message["type"] == "http.response.start":
                session = scope["session"]
                headers = MutableHeaders(scope=message)
                if session:
                    if _dump(session) != before or time.time() - issued > REFRESH_SECONDS:
                        headers.append("set-cookie", self._header(self.seal(session), self.max_age, scope))
                elif raw:  # emptied (signed out), or not one of ours: take it away
                    headers.append("set-cookie", self._header("", 0, scope))
            await send(message)

        await self.app(scope, receive, send_with_cookie)

    def seal(self, data: dict) -> str:
        nonce = os.urandom(_NONCE)
        plain = json.dumps({"t": int(time.time()), "d": data}, separators=(",", ":")).encode("utf-8")
        return base64.urlsafe_b64encode(nonce + self._aead.encrypt(nonce, plain, _CONTEXT)).decode("ascii").rstrip("=")

    def open(self, value: str) -> tuple[dict, float]:
        """The cookie's dict and when it was sealed; ({}, 0) for anything too old, too long, altered or foreign."""
        if len(value) > MAX_LENGTH:
            return {}, 0.0
        try:
            sealed = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
            plain = self._aead.decrypt(sealed[:_NONCE], sealed[_NONCE:], _CONTEXT)
            content = json.loads(plain)
        except (binascii.Error, ValueError, InvalidTag):
            return {}, 0.0
        issued, data = content.get("t"), content.get("d")
        if not isinstance(issued, int) or not isinstance(data, dict) or time.time() - issued > self.max_age:
            return {}, 0.0
        return data, float(issued)

    @staticmethod
    def _header(value: str, max_age: int, scope) -> str:
        secure = "; secure" if scope.get("scheme") == "https" else ""
        return f"{COOKIE}={value}; path=/; Max-Age={max_age}; httponly; samesite=lax{secure}"


def _dump(data: dict) -> str:
    return json.dumps(data, sort_keys=True, separators=(",", ":"))
