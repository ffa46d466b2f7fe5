"""The usher phone's offline copy of its course: sessions, and per badge a one-way hash of the code with
the name, unit, position and the sessions it is checked in to; whole, or as a delta since a cursor.

The copy never holds a badge code. A code is 128 random bits, so a fast hash (SHA-256 with a per-course
salt) already makes guessing from a stolen copy hopeless; the salt only keeps one course's hashes from
matching another's. The hash is cut to 128 bits: still no collision among a course's badges, and a
smaller copy.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import sqlite3
from dataclasses import dataclass
from datetime import datetime

from ..clock import parse_client_time
from ..errors import Problem
from ..models import Device
from .payloads import json_whole_number
from ..store import courses
from ..store import offline as store
from ..store.db import read_snapshot
from ..text import has_surrogate

VERSION = 1
DELTA_MAX = 1000  # more changed enrolments than this and the phone gets the whole copy again


def course_salt(secret_key: str, course_id: int) -> str:
    """The course's salt: derived from the server's secret, so nothing is stored and it never changes."""
    digest = hmac.new(secret_key.encode("utf-8"), f"offline-copy:{course_id}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:12]).decode("ascii")


def code_hash(salt: str, code: str) -> str:
    """What the copy holds for a badge: base64url of the first 16 bytes of SHA-256(salt ":" code).
    The scanner computes the same with crypto.subtle (offline-copy.js)."""
    digest = hashlib.sha256(f"{salt}:{code}".encode("utf-8")).digest()
    return base64.urlsafe_b64encode(digest[:16]).decode("ascii").rstrip("=")


CURSOR = re.compile(r"^d(\d{1,18})\.r(\d{1,18})\.e(\d{1,18})$")


def format_cursor(device_id: int, roster_change_id: int, event_id: int) -> str:
    """Where a copy stands: the device it was made for (a phone paired again, perhaps to another course,
    gets a whole new copy), the last roster change and the last event it holds."""
    return f"d{device_id}.r{roster_change_id}.e{event_id}"


def parse_cursor(raw: str | None, device_id: int) -> tuple[int, int] | None:
    """(roster change id, event id), or None for a missing, malformed or other device's cursor (then:
    the whole copy)."""
    match = CURSOR.match(raw or "")
    if match is None or int(match.group(1)) != device_id:
        return None
    return int(match.group(2)), int(match.group(3))


def _epoch(moment: datetime | None) -> int | None:
    return None if moment is None else int(moment.timestamp())


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat().replace("+00:00", "Z") if moment else None


@dataclass(frozen=True, slots=True)
class CopyRequest:
    device: Device
    since: str | None
    salt: str
    now: datetime


def build_copy_tx(conn: sqlite3.Connection, request: CopyRequest) -> dict:
    """The copy (or the delta after request.since) as JSON-ready data, read in one snapshot."""
    with read_snapshot(conn):  # cursor and rows from the same moment
        return _build(conn, request)


def _build(conn: sqlite3.Connection, request: CopyRequest) -> dict:
    course_id = request.device.course_id
    course = courses.get_course(conn, course_id)
    sessions = courses.list_sessions(conn, course_id)
    roster_id, event_id = store.get_cursor(conn, course_id)
    since = parse_cursor(request.since, request.device.id)
    changed = None
    if since is not None and since[0] <= roster_id and since[1] <= event_id:
        changed = store.list_changed_enrolments(conn, course_id, since[0])
        if len(changed) > DELTA_MAX:
            changed = None
    full = changed is None
    people = store.list_people(conn, course_id, None if full else changed)
    badges = store.list_badges(conn, course_id, None if full else changed)
    checkins = store.list_checkins(conn, course_id) if full else store.list_checkin_changes(conn, course_id, since[1])
    salt = request.salt
    return {
        "version": VERSION,
        "full": full,
        "cursor": format_cursor(request.device.id, roster_id, event_id),
        "server_time": _iso(request.now),
        "salt": salt,
        "device": {"id": request.device.id, "label": request.device.label,
                   "expires_at": _iso(request.device.expires_at)},
        "course": {"id": course.id, "title": course.title, "time_zone": course.time_zone,
                   "after_end": course.after_end},
        "sessions": [
            {"id": s.id, "title": s.title, "position": s.position, "starts_at": _iso(s.starts_at),
             "ends_at": _iso(s.ends_at), "opens_at": _iso(s.opens_at), "late_from": _iso(s.late_from)}
            for s in sessions
        ],
        # Rows as arrays, not objects: 5,000 people without 5,000 copies of the key names.
        "people": [[p.enrolment_id, p.full_name, p.unit, p.position] for p in people],
        "badges": [[code_hash(salt, b.code), b.enrolment_id, int(b.revoked)] for b in badges],
        "checkins": [[c.enrolment_id, c.session_id, _epoch(c.checked_in_at)] for c in checkins],
    }


# --- what a phone reports about its queue -------------------------------------------------------------

STATUS_OVERRULES_MAX = 500
STATUS_QUEUED_MAX = 1_000_000


@dataclass(frozen=True, slots=True)
class StatusReport:
    queued: int
    oldest_queued_at: datetime | None
    last_sync_at: datetime | None
    overruled: tuple[tuple[str, str], ...]  # (nonce, reason the phone showed offline)


def parse_status(data: dict) -> StatusReport:
    """A phone's report ({"queued", "oldest_queued_at"?, "last_sync_at"?, "overruled"?}), validated."""
    queued = json_whole_number(data.get("queued"))
    if queued is None or not 0 <= queued <= STATUS_QUEUED_MAX:
        raise Problem(422, "invalid_field", "'queued' must be the number of scans waiting (0 or more).", field="queued")
    times = {}
    for name in ("oldest_queued_at", "last_sync_at"):
        raw = data.get(name)
        if raw is None:
            times[name] = None
            continue
        try:
            if not isinstance(raw, str) or len(raw) > 40:
                raise ValueError
            times[name] = parse_client_time(raw)
        except ValueError:
            raise Problem(422, "invalid_field", f"'{name}' must be an ISO 8601 time with its offset.", field=name) from None
    items = data.get("overruled") or []
    if not isinstance(items, list) or len(items) > STATUS_OVERRULES_MAX:
        raise Problem(422, "invalid_field", f"'overruled' must be a list of at most {STATUS_OVERRULES_MAX} items.",
                      field="overruled")
    overruled = []
    for item in items:
        nonce = item.get("nonce") if isinstance(item, dict) else None
        reason = item.get("offline_reason") if isinstance(item, dict) else None
        if not (isinstance(nonce, str) and 0 < len(nonce) <= 100 and isinstance(reason, str) and 0 < len(reason) <= 40
                and not has_surrogate(nonce + reason)):
            raise Problem(422, "invalid_field", "Each 'overruled' item needs a 'nonce' and an 'offline_reason'.",
                          field="overruled")
        overruled.append((nonce, reason))
    return StatusReport(queued, times["oldest_queued_at"], times["last_sync_at"], tuple(overruled))


def record_status_tx(conn: sqlite3.Connection, device_id: int, report: StatusReport, now: datetime) -> None:
    store.upsert_sync_state(conn, device_id, report.queued, report.oldest_queued_at, report.last_sync_at, now)
    if report.overruled:
        store.insert_overrules(conn, device_id, report.overruled, now)
