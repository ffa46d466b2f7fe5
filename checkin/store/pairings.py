"""Pairing codes (stored only as hashes) that turn an usher's phone into a device, and the door's tallies."""

from __future__ import annotations

import hashlib
import secrets
import sqlite3
from dataclasses import dataclass
from datetime import datetime

from ..clock import from_db, to_db

# No I, L, O, 0 or 1: a code read aloud or typed from the projector has nothing to confuse.
ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 10  # 31**10, about 49 bits: enough for a code that lives minutes behind a rate limit

_COLUMNS = "id, course_id, created_by, created_at, expires_at, max_uses, uses, revoked_at"


@dataclass(frozen=True, slots=True)
class Pairing:
    id: int
    course_id: int
    created_by: int | None
    created_at: datetime
    expires_at: datetime
    max_uses: int
    uses: int
    revoked_at: datetime | None

    def refusal(self, now: datetime) -> str | None:
        """Why this pairing code cannot pair another phone now, or None."""
        if self.revoked_at is not None:
            return "pairing_revoked"
        if now >= self.expires_at:
            return "pairing_expired"
        if self.uses >= self.max_uses:
            return "pairing_used"
        return None


def new_code() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))


def normalise_code(raw: str) -> str:
    """What a person typed, as stored: upper case, without spaces and dashes."""
    return "".join(ch for ch in raw.upper() if ch not in " -\t")


def format_code(code: str) -> str:
    """For reading aloud and typing: groups of four, 'ABCD-EFGH-JK'."""
    return "-".join(code[i:i + 4] for i in range(0, len(code), 4))


def hash_code(code: str) -> str:
    return hashlib.sha256(("pairing:" + normalise_code(code)).encode("utf-8")).hexdigest()


def _pairing(row: sqlite3.Row) -> Pairing:
    return Pairing(
        id=row["id"], course_id=row["course_id"], created_by=row["created_by"],
        created_at=from_db(row["created_at"]), expires_at=from_db(row["expires_at"]), max_uses=row["max_uses"],
        uses=row["uses"], revoked_at=from_db(row["revoked_at"]),
    )


def insert_pairing(
    conn: sqlite3.Connection, course_id: int, organiser_id: int | None, expires_at: datetime, max_uses: int,
    now: datetime,
) -> tuple[int, str]:
    """Create a pairing code for the course; returns (id, code). The code is shown once and never stored."""
    code = new_code()
    pairing_id = conn.execute(
        "INSERT INTO pairings (course_id, secret_hash, created_by, created_at, expires_at, max_uses)"
        " VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
        (course_id, hash_code(code), organiser_id, to_db(now), to_db(expires_at), max_uses),
    ).fetchone()[0]
    return pairing_id, code


def get_pairing_by_code(conn: sqlite3.Connection, code: str) -> Pairing | None:
    row = conn.execute(f"SELECT {_COLUMNS} FROM pairings WHERE secret_hash = ?", (hash_code(code),)).fetchone()
    return _pairing(row) if row else None


def list_pairings(conn: sqlite3.Connection, course_id: int) -> list[Pairing]:
    """The course's pairing codes, newest first."""
    rows = conn.execute(f"SELECT {_COLUMNS} FROM pairings WHERE course_id = ? ORDER BY id DESC", (course_id,))
    return [_pairing(r) for r in rows]


def use_pairing(conn: sqlite3.Connection, pairing_id: int) -> bool:
    """Count one phone paired with this code; False if it has no use left (a race with another phone)."""
    return conn.execute(
        "UPDATE pairings SET uses = uses + 1 WHERE id = ? AND uses < max_uses", (pairing_id,)
    ).rowcount == 1


def revoke_pairing(conn: sqlite3.Connection, course_id: int, pairing_id: int, now: datetime) -> bool:
    """Stop a code from pairing more phones (phones already paired keep working); a second cancel keeps the
    first time. False when the course has no such pairing."""
    return conn.execute(
        "UPDATE pairings SET revoked_at = COALESCE(revoked_at, ?) WHERE id = ? AND course_id = ?",
        (to_db(now), pairing_id, course_id),
    ).rowcount == 1


# --- tallies for the door -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SessionTally:
    session_id: int
    checked_in: int  # everyone present or late in the session, from every device and organiser
    by_device: int  # of those, the ones this device checked in (undone check-ins excluded)


def count_session(conn: sqlite3.Connection, session_id: int, device_id: int) -> SessionTally:
    """How many are checked in to the session, and how many of them this device let in."""
    (total,) = conn.execute(
        "SELECT COUNT(*) FROM attendance WHERE session_id = ? AND status IN ('present', 'late')", (session_id,)
    ).fetchone()
    (mine,) = conn.execute(
        "SELECT COUNT(*) FROM attendance a JOIN scans s ON s.id = a.scan_id"
        " WHERE a.session_id = ? AND a.status IN ('present', 'late') AND s.device_id = ?",
        (session_id, device_id),
    ).fetchone()
    return SessionTally(session_id, total, mine)
