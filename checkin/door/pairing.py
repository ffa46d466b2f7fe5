"""Pairing an usher's phone: an organiser makes a short-lived code, a phone redeems it for a device token."""

from __future__ import annotations

import sqlite3
import unicodedata
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from ..errors import Problem
from ..store import courses, devices, pairings, scans
from ..text import clean

LABEL_MAX = 80
# What an organiser may choose on the devices page: how long a code lives and how many phones it pairs.
LIFETIMES_MIN = (10, 30, 120)
MAX_USES = (1, 5, 20)

_REFUSALS = {
    "pairing_expired": "This pairing code has expired. Ask an organiser to show a new one.",
    "pairing_used": "This pairing code has already paired as many phones as it may. Ask an organiser for a new one.",
    "pairing_revoked": "An organiser cancelled this pairing code. Ask for a new one.",
}


def default_device_expiry(course_date, zone: ZoneInfo, sessions, now: datetime) -> datetime:
    """The end of the course day, or two hours after its last session if that is later."""
    end = datetime.combine(course_date + timedelta(days=1), time(0), zone)
    if sessions:
        end = max(end, sessions[-1].ends_at + timedelta(hours=2))
    return max(end, now + timedelta(hours=1))


@dataclass(frozen=True, slots=True)
class PairedDevice:
    device_id: int
    token: str  # shown to the phone once, never stored
    course_id: int
    label: str
    expires_at: datetime


def create_pairing_tx(
    conn: sqlite3.Connection, course_id: int, organiser_id: int | None, lifetime_min: int, max_uses: int,
    now: datetime,
) -> tuple[int, str, datetime]:
    """A new pairing code for the course; returns (id, code, expires_at). Runs in the caller's transaction."""
    expires_at = now + timedelta(minutes=lifetime_min)
    pairing_id, code = pairings.insert_pairing(conn, course_id, organiser_id, expires_at, max_uses, now)
    scans.insert_audit(conn, course_id, "create_pairing", now, organiser_id=organiser_id,
                       subject=f"pairing {pairing_id}", detail=f"{lifetime_min} min, {max_uses} phone(s)")
    return pairing_id, code, expires_at


def pair_device_tx(conn: sqlite3.Connection, code: str, label: str, now: datetime) -> PairedDevice:
    """Redeem a pairing code for a new device of its course, valid to the end of the course day.

    Raises Problem when the code is unknown, expired, used up or cancelled (nothing is written then)."""
    pairing = pairings.get_pairing_by_code(conn, code)
    if pairing is None:
        raise Problem(404, "pairing_code_invalid", "This pairing code is not valid. Check it, or ask an organiser for a new one.")
    refusal = pairing.refusal(now)
    if refusal is None and not pairings.use_pairing(conn, pairing.id):
        refusal = "pairing_used"
    if refusal is not None:
        raise Problem(410, refusal, _REFUSALS[refusal])
    course = courses.get_course(conn, pairing.course_id)
    expires_at = default_device_expiry(
        course.course_date, ZoneInfo(course.time_zone), courses.list_sessions(conn, course.id), now
    )
    device_id, token = devices.insert_device(conn, course.id, label, expires_at, now)
    scans.insert_audit(conn, course.id, "pair_device", now, device_id=device_id,
                       subject=f"pairing {pairing.id}", detail=label)
    return PairedDevice(device_id, token, course.id, label, expires_at)


def revoke_device_tx(conn: sqlite3.Connection, course_id: int, device_id: int, organiser_id: int, now: datetime) -> None:
    """Unpair a phone of this course: its next request is refused."""
    device = devices.get_device(conn, device_id)
    if device is None or device.course_id != course_id:
        raise Problem(404, "device_not_found", "There is no such phone on this course.")
    if devices.revoke_device(conn, device_id, now):
        scans.insert_audit(conn, course_id, "revoke_device", now, organiser_id=organiser_id,
                           device_id=device_id, subject=f"device {device_id}", detail=device.label)


def clean_label(raw: object) -> str:
    """The phone's label as typed ('Cổng A – Lan'), or a Problem asking for one."""
    label = clean(str(raw or ""))
    if not label:
        raise Problem(422, "label_missing", "Give this phone a name, such as the door and your name.", field="label")
    if any(unicodedata.category(ch) == "Cc" for ch in label):
        raise Problem(422, "invalid_field", "The phone's name holds control characters.", field="label")
    if len(label) > LABEL_MAX:
        raise Problem(422, "label_too_long", f"The phone's name can have at most {LABEL_MAX} characters.", field="label")
    return label
