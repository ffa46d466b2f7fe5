"""Who is asking: usher devices by bearer token, organisers by signed session cookie; CSRF and sign-in limits."""

from __future__ import annotations

import hmac
import secrets
import time
from collections import defaultdict, deque
from datetime import datetime

from starlette.requests import Request

from .errors import Problem
from .models import Device, Organiser
from .store import devices as device_store
from .store import organisers as organiser_store
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
    header = request.headers.get("authorization", "")
    scheme, _sep, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


async def require_device(request: Request, db: Database, cache: DeviceCache, now: datetime) -> Device:
    """The device behind the request's bearer token, or a 401/403 naming what is wrong."""
    token = bearer_token(request)
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


async def current_organiser(request: Request, db: Database) -> Organiser | None:
    """The signed-in organiser, if the cookie's session version is still theirs: a password change raises the
    version, which ends every session signed in before it (a stolen cookie included)."""
    if "session" not in request.scope:  # an API call with a device's bearer token carries no organiser session
        return None
    organiser_id = request.session.get("organiser_id")
    version = request.session.get("session_version")
    if not isinstance(organiser_id, int) or not isinstance(version, int):
        return None
    organiser = await db.read(organiser_store.get_organiser, organiser_id)
    if organiser is None or organiser.session_version != version:
        return None
    return organiser


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


class SignInLimiter:
    """At most `attempts` failed sign-ins per user name and per address in `window` seconds."""

    def __init__(self, attempts: int = 5, window: float = 300.0):
        self.attempts = attempts
        self.window = window
        self._failures: dict[str, deque[float]] = defaultdict(deque)

    def _recent(self, key: str) -> deque[float]:
        failures = self._failures[key]
        cutoff = time.monotonic() - self.window
        while failures and failures[0] < cutoff:
            failures.popleft()
        return failures

    def blocked(self, *keys: str) -> bool:
        return any(len(self._recent(key)) >= self.attempts for key in keys)

    def fail(self, *keys: str) -> None:
        for key in keys:
            self._recent(key).append(time.monotonic())

    def succeed(self, *keys: str) -> None:
        for key in keys:
            self._failures.pop(key, None)
