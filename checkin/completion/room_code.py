"""The room code: a QR that changes every few seconds on the organiser's screen, for self check-in in a hall
without ushers. A code is an HMAC (the server's secret key) of the course, the session and the time step, so any
instance can check it without storing anything; it is good for its own step and the next (at most 2 x STEP
seconds), so a photo of it sent away is worthless moments later. Pure: the time comes in as an argument."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import datetime

from ..errors import Problem
from ..models import CourseSession

STEP_SECONDS = 5
VALID_STEPS = 2  # the step it was shown in, and the next: a phone that read it at the end of a step still gets in
PREFIX = "CHKROOM"
_CODE = re.compile(rf"^{PREFIX}\.(\d{{1,12}})\.(\d{{1,12}})\.(\d{{1,14}})\.([A-Za-z0-9_-]{{22}})$")
MAX_KEY = 100
_KEY = re.compile(r"^[A-Za-z0-9_-]{16,100}$")


def step_of(moment: datetime) -> int:
    return int(moment.timestamp()) // STEP_SECONDS


def _mac(secret: str, course_id: int, session_id: int, step: int) -> str:
    digest = hmac.new(secret.encode(), f"room:{course_id}:{session_id}:{step}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:16]).decode().rstrip("=")


def make(secret: str, course_id: int, session_id: int, now: datetime) -> str:
    """The code shown now for this session."""
    step = step_of(now)
    return f"{PREFIX}.{course_id}.{session_id}.{step}.{_mac(secret, course_id, session_id, step)}"


def seconds_left(now: datetime) -> float:
    return STEP_SECONDS - (now.timestamp() % STEP_SECONDS)


@dataclass(frozen=True, slots=True)
class RoomCode:
    course_id: int
    session_id: int
    step: int


def read(secret: str, text: object, course_id: int, sessions: list[CourseSession], now: datetime
         ) -> tuple[RoomCode, CourseSession]:
    """The room code read by the cadre's phone, checked: genuine, of this course, fresh, for a session whose
    window is open now. Raises a Problem saying which of these failed."""
    match = _CODE.match(text.strip()) if isinstance(text, str) and len(text) < 200 else None
    if match is None:
        raise Problem(422, "room_code_invalid", "This is not a room code. Point the camera at the code on the "
                      "organisers' screen.", field="room_code")
    code = RoomCode(int(match.group(1)), int(match.group(2)), int(match.group(3)))
    if not hmac.compare_digest(match.group(4), _mac(secret, code.course_id, code.session_id, code.step)):
        raise Problem(422, "room_code_invalid", "This is not a room code. Point the camera at the code on the "
                      "organisers' screen.", field="room_code")
    if code.course_id != course_id:
        raise Problem(409, "room_code_other_course", "This room code is for another course: check in in your own "
                      "course's hall.")
    if not 0 <= step_of(now) - code.step < VALID_STEPS:
        raise Problem(409, "room_code_expired", "This room code has expired: scan the code on the screen now.")
    session = next((s for s in sessions if s.id == code.session_id), None)
    if session is None or not session.opens_at <= now < session.ends_at:
        raise Problem(409, "room_code_session_closed", "This room code is for a session that is not open for "
                      "check-in now.")
    return code, session


def check_key(raw: object) -> str:
    """The phone's own key (random, kept in the phone's storage): what binds a badge to one phone."""
    if not isinstance(raw, str) or not _KEY.match(raw):
        raise Problem(422, "device_key_missing", "This page could not identify your phone. Reload it and try "
                      "again.", field="device_key")
    return raw


def key_hash(secret: str, key: str) -> str:
    return hmac.new(secret.encode(), f"room-device:{key}".encode(), hashlib.sha256).hexdigest()
