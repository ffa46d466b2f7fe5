"""Who is asking: usher devices by bearer token; CSRF tokens for forms. Organisers' sessions: sign_in.py."""

from __future__ import annotations

import hmac
import secrets
import time
from datetime import datetime

from starlette.requests import Request

from .errors import Problem
from .models import Device
from .store import devices as device_store
from .store.db import Database

DEVICE_CACHE_SECONDS = 2.0


class DeviceCache:
    """Token -> device for a couple of seconds, so the door's hot path skips a database hop.

    The scan transaction re-reads the device, so a revocation by another process takes effect on the
    very next scan; revocations made here also clear the cache at once.
    """

    def __init__(self) -> None:
        self._entries: dict[str, tuple[float, Device | None]] = {}

    def get(self, token: str) -> tuple[bool, Device | None]:
        entry = self._entries.get(token)
        if entry is None or entry[0] < time.monotonic():
            return False, None
        return True, entry[1]

    def put(self, token: str, device: Device | None) -> None:
        if len(self._entries) > 10_000:
            self._entries.clear()
        self._entries[token] = (time.monotonic() + DEVICE_CACHE_SECONDS, device)

    def clear(self) -> None:
        self._entries.clear()


def bearer_token(request: Request) -> str | None:
    return token_of(request.headers.get("authorization", ""))


def token_of(header: str) -> str | None:
    """The token in an Authorization header's value, when it is a bearer token."""
    scheme, _sep, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


async def require_device(request: Request, db: Database, cache: DeviceCache, now: datetime) -> Device:
    """The device behind the request's bearer token, or a 401 naming what is wrong."""
    return await device_for_token(bearer_token(request), db, cache)


async def device_for_token(token: str | None, db: Database, cache: DeviceCache) -> Device:
    """The device a bearer token belongs to, or a 401 naming what is wrong (no token, or not a device's)."""
    if token is None:
        raise Problem(401, "device_token_missing", "Pair this phone first: the request has no device token.")
    if len(token) > 200:
        raise Problem(401, "device_token_invalid", "This device token is not valid. Pair the phone again.")
    found, device = cache.get(token)
    if not found:
        device = await db.read(device_store.get_device_by_token, token)
        cache.put(token, device)
    if device is None:
        raise Problem(401, "device_token_invalid", "This device token is not valid. Pair the phone again.")
    return device


def device_refusal_problem(reason: str) -> Problem:
    if reason == "device_expired":
        return Problem(401, "device_expired", "This phone's pairing has expired. Ask an organiser for a new pairing.")
    return Problem(403, "device_revoked", "This phone was unpaired by an organiser. Ask an organiser to pair it again.")


def csrf_token(request: Request) -> str:
    token = request.session.get("csrf")
    if not token:
        token = secrets.token_urlsafe(24)
        request.session["csrf"] = token
    return token


def check_csrf(request: Request, submitted: object) -> None:
    expected = request.session.get("csrf")
    if not expected or not isinstance(submitted, str) or not hmac.compare_digest(expected, submitted):
        raise Problem(403, "csrf_failed", "This form has expired. Reload the page and submit it again.")
