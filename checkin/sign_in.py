"""Organiser sign-in: limits on guessing passwords and pairing codes, and sign-in sessions kept on the server.

Both live in the database, so every server on it applies the same limits and sees a session end at once.

The limits, over a sliding window of WINDOW:
- a user name from one address: PASSWORD.pair_limit failures lock that pair (the attacker's address), never the
  organiser signing in from another one;
- one address, whatever the names: PASSWORD.address_limit failures lock the address;
- a user name tried from many addresses (a distributed attack) is slowed down, a delay growing with its failures,
  and under a heavy attack an address with two failures for it is refused; an address with no failure for it (the
  real organiser's) always gets its answer.
"""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from starlette.requests import Request

from .models import Organiser
from .store import sign_ins
from .store.db import Database
from .store.sign_ins import FailureCounts, SignInSession

WINDOW = timedelta(minutes=15)
FAILURE_CAP = 50_000  # rows of sign_in_failures at most (a few MB); past it the oldest are forgotten
SESSION_LIFETIME = timedelta(days=14)  # without use; each use moves the end
TOUCH_EVERY = timedelta(minutes=5)  # last_seen_at is written at most this often per session
SESSION_KEY = "sid"  # the session's random id, in the (sealed) cookie


@dataclass(frozen=True, slots=True)
class Verdict:
    refused: str | None  # "pair" (this name from this address) or "address"; None: go ahead
    delay: float  # seconds to wait before answering (a name under attack)


@dataclass(frozen=True, slots=True)
class Limits:
    kind: str
    pair_limit: int
    address_limit: int
    name_slow_from: int | None = None  # failures of a name (any address) from which its attempts are slowed
    name_strict_from: int | None = None  # ... and from which pair_limit becomes strict_pair_limit
    strict_pair_limit: int = 2
    max_delay: float = 5.0

    def verdict(self, counts: FailureCounts) -> Verdict:
        """What to do with an attempt, given the recent failures (pure: the rule, table-tested)."""
        pair_limit, delay = self.pair_limit, 0.0
        if self.name_slow_from is not None and counts.name >= self.name_slow_from:
            # A quarter of a second, doubling every ten failures more, up to max_delay.
            delay = min(self.max_delay, 0.25 * 2 ** min((counts.name - self.name_slow_from) / 10, 8))
            if self.name_strict_from is not None and counts.name >= self.name_strict_from:
                pair_limit = min(pair_limit, self.strict_pair_limit)
        if counts.pair >= pair_limit:
            return Verdict("pair", delay)
        if counts.address >= self.address_limit:
            return Verdict("address", delay)
        return Verdict(None, delay)


# Passwords: the sign-in page and the current password asked by the password page count together.
PASSWORD = Limits("password", pair_limit=5, address_limit=20, name_slow_from=10, name_strict_from=50)
# Pairing codes have no user name: only the address counts.
PAIRING = Limits("pairing", pair_limit=10, address_limit=10)


class SignInLimiter:
    """The limits applied to the failures stored in the database; it keeps nothing in the process."""

    def __init__(self, db: Database):
        self.db = db

    async def admit(self, limits: Limits, username: str, address: str, now: datetime) -> str | None:
        """Wait as long as the limits ask, then None to go ahead, or the reason the attempt is refused."""
        counts = await self.db.read(sign_ins.count_failures, limits.kind, username, address, now - WINDOW)
        verdict = limits.verdict(counts)
        if verdict.refused is None and verdict.delay:
            await asyncio.sleep(verdict.delay)
        return verdict.refused

    async def fail(self, limits: Limits, username: str, address: str, now: datetime) -> None:
        await self.db.write(sign_ins.insert_failure, limits.kind, username, address, now, WINDOW, FAILURE_CAP)

    async def succeed(self, limits: Limits, username: str, address: str) -> None:
        await self.db.write(sign_ins.forget_failures, limits.kind, username, address)


def user_key(username: str) -> str:
    """A user name as the limits count it (as the accounts store it: trimmed, lower case)."""
    return username.strip().lower()[:100]


def client_address(request: Request) -> str:
    """The client's address; behind a trusted proxy (CHECKIN_FORWARDED_ALLOW_IPS) uvicorn has already put the
    real client's there, from X-Forwarded-For."""
    return request.client.host if request.client else "-"


# --- sessions -------------------------------------------------------------------------------------------------


def new_secret() -> tuple[str, str]:
    """A new session id for a cookie, and the hash the database keeps of it."""
    secret = secrets.token_urlsafe(32)
    return secret, sign_ins.hash_secret(secret)


def adopt_session(request: Request, secret: str) -> None:
    """Put a new session's id in a fresh cookie (the old cookie's CSRF token goes with it)."""
    request.session.clear()
    request.session[SESSION_KEY] = secret
    request.scope.pop("checkin.sign_in", None)


async def begin_session(request: Request, db: Database, organiser_id: int, now: datetime) -> int:
    """Sign this browser in."""
    secret, secret_hash = new_secret()
    session_id = await db.write(sign_ins.insert_session, organiser_id, secret_hash, now, SESSION_LIFETIME)
    adopt_session(request, secret)
    return session_id


async def current_session(request: Request, db: Database, now: datetime) -> SignInSession | None:
    """The live sign-in session of this request's cookie, read once per request."""
    if "checkin.sign_in" in request.scope:
        return request.scope["checkin.sign_in"]
    if "session" not in request.scope:  # an API call with a device's bearer token carries no organiser session
        return None
    secret = request.session.get(SESSION_KEY)
    session = None
    if isinstance(secret, str) and len(secret) <= 100:
        session = await db.read(sign_ins.get_live_session, sign_ins.hash_secret(secret), now)
        if session is not None and now - session.last_seen_at >= TOUCH_EVERY:
            await db.write(sign_ins.touch_session, session.id, now, SESSION_LIFETIME)
    request.scope["checkin.sign_in"] = session
    return session


async def current_organiser(request: Request, db: Database, now: datetime) -> Organiser | None:
    session = await current_session(request, db, now)
    return session.organiser if session else None


async def end_session(request: Request, db: Database, now: datetime) -> int | None:
    """Sign this browser out, on the server too; returns the id of the session ended (for its streams)."""
    session = await current_session(request, db, now)
    request.session.clear()
    request.scope["checkin.sign_in"] = None
    if session is None:
        return None
    await db.write(sign_ins.end_session, session.id, now, "signed_out")
    return session.id
