"""A unit's private link for one course: a bearer secret like a badge code.

The secret is HMAC(server key, random salt), so an organiser can show or send the same link again without the
database ever holding it: the database keeps the salt and a hash of the secret (to find the row). A leaked
database alone opens no unit's page; a link that is revoked says so; an unknown one says nothing, and well-formed
unknown links count against the address like wrong pairing codes (a malformed one cannot be a link: refused
without a look-up). Nothing personal is in the link.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import sqlite3
from dataclasses import dataclass
from datetime import datetime

from ..errors import Problem
from ..sign_in import Limits
from ..store import units

SECRET = re.compile(r"^[A-Za-z0-9_-]{32}$")
# Unknown links per address over the limiter's window (15 minutes): far more than a secretary's typos, far
# too few to find one of 2^190 links. Counted with the pairing codes' failures (sign_in_failures allows the kinds
# 'password' and 'pairing' only), under the name LIMIT_NAME: its pair count is this address's unknown unit links.
# They also count towards PAIRING's limit per address: a network guessing links cannot guess pairing codes either.
LIMIT_NAME = "unit link"
UNIT_LINK = Limits("pairing", pair_limit=40, address_limit=10**6)


def link_secret(secret_key: str, salt: str) -> str:
    digest = hmac.new(secret_key.encode("utf-8"), f"unit-link:{salt}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode("ascii")[:32]


def secret_hash(secret: str) -> str:
    return hashlib.sha256(f"unit-link:{secret}".encode()).hexdigest()


def link_url(public_url: str, secret: str) -> str:
    return f"{public_url}/u/{secret}"


def make_link_tx(conn: sqlite3.Connection, secret_key: str, summoned_id: int, now: datetime) -> str:
    """A new link for the unit (the old one, if any, is revoked); returns the secret."""
    units.revoke_links(conn, summoned_id, now)
    salt = secrets.token_urlsafe(18)
    secret = link_secret(secret_key, salt)
    units.insert_link(conn, summoned_id, salt, secret_hash(secret), now)
    return secret


def live_secret(conn: sqlite3.Connection, secret_key: str, summoned_id: int, now: datetime) -> str:
    """The unit's current link, made on first need."""
    link = units.get_live_link(conn, summoned_id)
    if link is None:
        return make_link_tx(conn, secret_key, summoned_id, now)
    return link_secret(secret_key, link.salt)


@dataclass(frozen=True, slots=True)
class Holder:
    """Who a link opens: one summoned unit of one course."""

    link_id: int
    course_id: int
    summoned_id: int


NOT_FOUND = "This unit link is not valid. Ask the organisers for the link of your unit."
REVOKED = "This unit link was replaced by a newer one. Ask the organisers for your unit's current link."


def find_link(conn: sqlite3.Connection, secret: str) -> Holder | str:
    """The holder of a well-formed secret, or "unknown" / "revoked"."""
    link = units.get_link_by_hash(conn, secret_hash(secret))
    if link is None:
        return "unknown"
    if link.revoked_at is not None:
        return "revoked"
    summoned = units.get_summoned_unit(conn, link.course_id, link.summoned_unit_id)
    if summoned is None or summoned.withdrawn:
        return "revoked"
    return Holder(link.id, link.course_id, link.summoned_unit_id)


def refusal(kind: str) -> Problem:
    if kind == "revoked":
        return Problem(410, "unit_link_revoked", REVOKED)
    return Problem(404, "unit_link_not_found", NOT_FOUND)
