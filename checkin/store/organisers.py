"""Organiser accounts. Passwords are kept as scrypt hashes (standard library, memory-hard)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import sqlite3
from datetime import datetime

from ..clock import to_db
from ..models import Organiser
from . import sign_ins

# scrypt cost: n=2**14, r=8 takes ~30 ms and 16 MiB here, the figure OWASP gives as a minimum.
_N, _R, _P = 2**14, 8, 1
MIN_PASSWORD_LENGTH = 10


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=_N, r=_R, p=_P, dklen=32)
    encode = lambda b: base64.b64encode(b).decode("ascii")  # noqa: E731
    return f"scrypt${_N}${_R}${_P}${encode(salt)}${encode(digest)}"


def verify_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(digest)
        actual = hashlib.scrypt(
            password.encode("utf-8"), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p), dklen=len(expected)
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)


# Verifying against this when the user does not exist keeps the answer time the same.
_DUMMY_HASH = None


def insert_organiser(
    conn: sqlite3.Connection, username: str, display_name: str, password: str | None, now: datetime,
    is_admin: bool = False, *, password_hash: str | None = None,
) -> int:
    """A new organiser. Web handlers pass `password_hash` made beforehand (hash_password takes ~30 ms, too long
    to hold the write transaction that the door's scans wait on)."""
    return conn.execute(
        "INSERT INTO organisers (username, display_name, password_hash, is_admin, created_at) VALUES (?, ?, ?, ?, ?) RETURNING id",
        (username.strip().lower(), display_name.strip(), password_hash or hash_password(password), int(is_admin),
         to_db(now)),
    ).fetchone()[0]


def set_password(conn: sqlite3.Connection, organiser_id: int, password: str, now: datetime) -> list[int]:
    return set_password_hash(conn, organiser_id, hash_password(password), now)


def set_password_hash(conn: sqlite3.Connection, organiser_id: int, password_hash: str, now: datetime) -> list[int]:
    """Set a new password and end every session of the organiser, a stolen cookie's included (the browser that
    made the change gets a new session). Returns the ids of the sessions ended, so that their streams end too."""
    conn.execute("UPDATE organisers SET password_hash = ? WHERE id = ?", (password_hash, organiser_id))
    return sign_ins.end_sessions(conn, organiser_id, now, "password_changed")


def set_disabled(conn: sqlite3.Connection, organiser_id: int, disabled: bool, now: datetime) -> list[int]:
    """Disable an account (it cannot sign in, its sessions end) or enable it again. Returns the sessions ended."""
    conn.execute("UPDATE organisers SET disabled_at = ? WHERE id = ?", (to_db(now) if disabled else None, organiser_id))
    return sign_ins.end_sessions(conn, organiser_id, now, "account_disabled") if disabled else []


def check_password(conn: sqlite3.Connection, organiser_id: int, password: str) -> bool:
    row = conn.execute("SELECT password_hash FROM organisers WHERE id = ?", (organiser_id,)).fetchone()
    return row is not None and verify_password(password, row[0])


def get_organiser(conn: sqlite3.Connection, organiser_id: int) -> Organiser | None:
    row = conn.execute(
        "SELECT id, username, display_name, is_admin, disabled_at FROM organisers WHERE id = ?", (organiser_id,)
    ).fetchone()
    return Organiser(row[0], row[1], row[2], bool(row[3]), row[4] is not None) if row else None


def get_organiser_by_username(conn: sqlite3.Connection, username: str) -> Organiser | None:
    row = conn.execute(
        "SELECT id FROM organisers WHERE username = ?", (username.strip().lower(),)
    ).fetchone()
    return get_organiser(conn, row[0]) if row else None


def authenticate(conn: sqlite3.Connection, username: str, password: str) -> Organiser | None:
    """The organiser with these credentials, or None (taking the same time either way). A disabled account is
    returned too (with `disabled` set), so that the page can say so to the one person who knows its password."""
    global _DUMMY_HASH
    row = conn.execute(
        "SELECT id, password_hash FROM organisers WHERE username = ?", (username.strip().lower(),)
    ).fetchone()
    if row is None:
        if _DUMMY_HASH is None:
            _DUMMY_HASH = hash_password(secrets.token_hex(8))
        verify_password(password, _DUMMY_HASH)
        return None
    if not verify_password(password, row[1]):
        return None
    return get_organiser(conn, row[0])
