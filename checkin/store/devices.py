"""Usher devices: bearer tokens stored only as hashes."""

from __future__ import annotations

import hashlib
import secrets
import sqlite3
from dataclasses import dataclass
from datetime import datetime

from ..clock import from_db, to_db
from ..models import Device

_COLUMNS = "id, course_id, label, created_at, expires_at, revoked_at, last_seen_at"


@dataclass(frozen=True, slots=True)
class DeviceRow:
    device: Device
    scan_count: int


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_token() -> str:
    return secrets.token_urlsafe(32)


def device_of(values) -> Device:
    """A device from its columns in _COLUMNS order."""
    return Device(values[0], values[1], values[2], from_db(values[3]), from_db(values[4]), from_db(values[5]),
                  from_db(values[6]))


def _device(row: sqlite3.Row) -> Device:
    return Device(
        id=row["id"], course_id=row["course_id"], label=row["label"], created_at=from_db(row["created_at"]),
        expires_at=from_db(row["expires_at"]), revoked_at=from_db(row["revoked_at"]),
        last_seen_at=from_db(row["last_seen_at"]),
    )


def insert_device(conn: sqlite3.Connection, course_id: int, label: str, expires_at: datetime, now: datetime) -> tuple[int, str]:
    """Register a device; returns (id, token). The token is shown once and never stored."""
    token = new_token()
    device_id = conn.execute(
        "INSERT INTO devices (course_id, label, token_hash, created_at, expires_at) VALUES (?, ?, ?, ?, ?) RETURNING id",
        (course_id, label, hash_token(token), to_db(now), to_db(expires_at)),
    ).fetchone()[0]
    return device_id, token


def get_device_by_token(conn: sqlite3.Connection, token: str) -> Device | None:
    row = conn.execute(f"SELECT {_COLUMNS} FROM devices WHERE token_hash = ?", (hash_token(token),)).fetchone()
    return _device(row) if row else None


def get_device(conn: sqlite3.Connection, device_id: int) -> Device | None:
    row = conn.execute(f"SELECT {_COLUMNS} FROM devices WHERE id = ?", (device_id,)).fetchone()
    return _device(row) if row else None


def list_devices(conn: sqlite3.Connection, course_id: int) -> list[DeviceRow]:
    rows = conn.execute(
        f"SELECT {', '.join('d.' + c.strip() for c in _COLUMNS.split(','))},"
        " (SELECT COUNT(*) FROM scans s WHERE s.device_id = d.id AND s.accepted = 1) AS scan_count"
        " FROM devices d WHERE d.course_id = ? ORDER BY d.id",
        (course_id,),
    )
    return [DeviceRow(_device(r), r["scan_count"]) for r in rows]


def revoke_device(conn: sqlite3.Connection, device_id: int, now: datetime) -> bool:
    """Revoke a device; False when it was already revoked or does not exist."""
    return conn.execute(
        "UPDATE devices SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL", (to_db(now), device_id)
    ).rowcount == 1


def touch_device(conn: sqlite3.Connection, device_id: int, now: datetime) -> None:
    conn.execute("UPDATE devices SET last_seen_at = ? WHERE id = ?", (to_db(now), device_id))
