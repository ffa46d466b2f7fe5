"""Organisers' sign-in sessions, and the failed attempts the sign-in limits count: both shared by every server
on the database, neither kept in a process."""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from ..clock import from_db, to_db
from ..models import Organiser

# Counting stops here: enough for every rule of the limiter, and a name under a long attack costs no more to count.
COUNT_LIMIT = 1000
_IN_CHUNK = 500  # ids per IN (...) list, well under every database's parameter limit


@dataclass(frozen=True, slots=True)
class SignInSession:
    id: int
    organiser: Organiser
    last_seen_at: datetime


@dataclass(frozen=True, slots=True)
class FailureCounts:
    """Recent failures: for this name from this address, from this address for any name, for this name from anywhere."""

    pair: int
    address: int
    name: int


def hash_secret(secret: str) -> str:
    return hashlib.sha256(("sign-in:" + secret).encode("utf-8")).hexdigest()


# --- sessions -------------------------------------------------------------------------------------------------


def insert_session(conn: sqlite3.Connection, organiser_id: int, secret_hash: str, now: datetime,
                   lifetime: timedelta) -> int:
    """A new session for the organiser; sessions past their expiry (ended or not) are deleted on the way."""
    conn.execute("DELETE FROM sign_in_sessions WHERE expires_at < ?", (to_db(now),))
    return conn.execute(
        "INSERT INTO sign_in_sessions (secret_hash, organiser_id, created_at, last_seen_at, expires_at)"
        " VALUES (?, ?, ?, ?, ?) RETURNING id", (secret_hash, organiser_id, to_db(now), to_db(now), to_db(now + lifetime)),
    ).fetchone()[0]


def get_live_session(conn: sqlite3.Connection, secret_hash: str, now: datetime) -> SignInSession | None:
    """The session with this secret if it has not ended, has not expired and its account is not disabled."""
    row = conn.execute(
        "SELECT s.id, s.last_seen_at, o.id, o.username, o.display_name, o.is_admin"
        " FROM sign_in_sessions s JOIN organisers o ON o.id = s.organiser_id"
        " WHERE s.secret_hash = ? AND s.ended_at IS NULL AND s.expires_at > ? AND o.disabled_at IS NULL",
        (secret_hash, to_db(now)),
    ).fetchone()
    if row is None:
        return None
    return SignInSession(row[0], Organiser(row[2], row[3], row[4], bool(row[5])), from_db(row[1]))


def touch_session(conn: sqlite3.Connection, session_id: int, now: datetime, lifetime: timedelta) -> None:
    """Seen now: the session lives `lifetime` from here (unless it ended meanwhile)."""
    conn.execute(
        "UPDATE sign_in_sessions SET last_seen_at = ?, expires_at = ? WHERE id = ? AND ended_at IS NULL",
        (to_db(now), to_db(now + lifetime), session_id),
    )


def end_session(conn: sqlite3.Connection, session_id: int, now: datetime, reason: str) -> bool:
    return conn.execute(
        "UPDATE sign_in_sessions SET ended_at = ?, end_reason = ? WHERE id = ? AND ended_at IS NULL",
        (to_db(now), reason, session_id),
    ).rowcount == 1


def end_sessions(conn: sqlite3.Connection, organiser_id: int, now: datetime, reason: str,
                 keep: int | None = None) -> list[int]:
    """End every open session of the organiser (but `keep`); returns the ids ended, to close their streams."""
    rows = conn.execute(
        "UPDATE sign_in_sessions SET ended_at = ?, end_reason = ?"
        " WHERE organiser_id = ? AND ended_at IS NULL AND id <> ? RETURNING id",
        (to_db(now), reason, organiser_id, -1 if keep is None else keep),
    ).fetchall()
    return [r[0] for r in rows]


def list_ended_sessions(conn: sqlite3.Connection, session_ids: Iterable[int], now: datetime) -> set[int]:
    """Of these sessions, the ones that are no longer live: ended, expired, deleted, or of a disabled account."""
    wanted = list(session_ids)
    live: set[int] = set()
    for start in range(0, len(wanted), _IN_CHUNK):
        chunk = wanted[start:start + _IN_CHUNK]
        marks = ", ".join("?" * len(chunk))
        live.update(r[0] for r in conn.execute(
            f"SELECT s.id FROM sign_in_sessions s JOIN organisers o ON o.id = s.organiser_id WHERE s.id IN ({marks})"
            " AND s.ended_at IS NULL AND s.expires_at > ? AND o.disabled_at IS NULL", (*chunk, to_db(now))))
    return set(wanted) - live


# --- failed attempts ------------------------------------------------------------------------------------------


def insert_failure(conn: sqlite3.Connection, kind: str, username: str, address: str, now: datetime,
                   window: timedelta, cap: int) -> None:
    """Count one failed attempt. Rows older than the window go first; then, beyond `cap` rows, the oldest
    (ids only grow, so the cap costs one range delete on the primary key, not a count)."""
    conn.execute("DELETE FROM sign_in_failures WHERE failed_at < ?", (to_db(now - window),))
    failure_id = conn.execute(
        "INSERT INTO sign_in_failures (kind, username, address, failed_at) VALUES (?, ?, ?, ?) RETURNING id",
        (kind, username, address, to_db(now)),
    ).fetchone()[0]
    conn.execute("DELETE FROM sign_in_failures WHERE id <= ?", (failure_id - cap,))


def count_failures(conn: sqlite3.Connection, kind: str, username: str, address: str, since: datetime) -> FailureCounts:
    """Failures since `since`, each count stopping at COUNT_LIMIT."""
    def count(where: str, *args) -> int:
        return conn.execute(
            f"SELECT COUNT(*) FROM (SELECT 1 FROM sign_in_failures WHERE kind = ? AND {where} AND failed_at >= ?"
            " LIMIT ?) AS recent", (kind, *args, to_db(since), COUNT_LIMIT),
        ).fetchone()[0]

    return FailureCounts(
        pair=count("username = ? AND address = ?", username, address),
        address=count("address = ?", address),
        name=count("username = ?", username),
    )


def forget_failures(conn: sqlite3.Connection, kind: str, username: str, address: str) -> None:
    """The right password from this address: its slips for this name are forgiven (not those for other names)."""
    conn.execute("DELETE FROM sign_in_failures WHERE kind = ? AND username = ? AND address = ?",
                 (kind, username, address))
