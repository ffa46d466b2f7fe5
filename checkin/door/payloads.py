"""Reading untrusted request bodies into validated values, with a stable error code for each fault."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from ..clock import parse_client_time
from ..errors import Problem
from ..text import has_surrogate

MAX_CODE = 512
MAX_NONCE = 100
# Printable text only: a QR read by a camera or a wedge scanner is text; control characters are not.
_PRINTABLE = re.compile(r"^[^\x00-\x1f\x7f]+$")
BADGE_URL = re.compile(r"/b/([A-Za-z0-9_-]{16,64})/?$")


@dataclass(slots=True)  # not frozen: made on every scan, and a frozen __init__ costs twice
class ScanBody:
    code: str | None
    enrolment_id: int | None
    session_id: int | None
    nonce: str | None
    device_time: datetime | None
    method: str
    direction: str = "in"  # "out": an exit scan


def json_whole_number(value: object) -> int | None:
    """A JSON number that is a whole number (JSON Schema's integer: 7 or 7.0), as an int; else None."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def optional_int(data: dict, name: str) -> int | None:
    if data.get(name) is None:
        return None
    value = json_whole_number(data[name])
    if value is None or not 0 < value < 2**53:
        raise Problem(422, "invalid_field", f"'{name}' must be a positive whole number.", field=name)
    return value


def badge_code(raw: str) -> str:
    """The code in what was scanned: a bare code, or a badge link ending in /b/CODE."""
    text = raw.strip()
    match = BADGE_URL.search(text)
    return match.group(1) if match else text


def parse_scan(data: dict, now: datetime, allowed_methods: tuple[str, ...]) -> ScanBody:
    code = data.get("code")
    enrolment_id = optional_int(data, "participant_id")
    if code is None and enrolment_id is None:
        raise Problem(422, "code_missing", "Send the scanned text in 'code' (or a 'participant_id' found by search).", field="code")
    if code is not None:
        if not isinstance(code, str):
            raise Problem(422, "invalid_field", "'code' must be the scanned text, as a string.", field="code")
        if len(code) > MAX_CODE:
            raise Problem(422, "code_too_long", f"The scanned text is longer than {MAX_CODE} characters: not a badge.", field="code")
        if not code.strip():
            raise Problem(422, "code_missing", "The scanned text is empty.", field="code")
        if not _PRINTABLE.match(code.strip()) or has_surrogate(code):
            raise Problem(422, "code_not_text", "The scanned text holds control characters: not a badge.", field="code")
        code = badge_code(code)
    nonce = data.get("nonce")
    if nonce is not None and (not isinstance(nonce, str) or not 0 < len(nonce) <= MAX_NONCE or not _PRINTABLE.match(nonce)
                              or has_surrogate(nonce)):
        raise Problem(422, "invalid_field", f"'nonce' must be a short string (1 to {MAX_NONCE} characters).", field="nonce")
    method = data.get("method", "api")
    if method not in allowed_methods:
        raise Problem(422, "invalid_field", f"'method' must be one of: {', '.join(allowed_methods)}.", field="method")
    device_time = None
    if data.get("scanned_at") is not None:
        raw = data["scanned_at"]
        try:
            if not isinstance(raw, str) or len(raw) > 40:
                raise ValueError
            device_time = parse_client_time(raw)
        except ValueError:
            raise Problem(422, "invalid_field", "'scanned_at' must be an ISO 8601 time with its offset.", field="scanned_at") from None
        if device_time > now + timedelta(minutes=5) or device_time < now - timedelta(days=2):
            raise Problem(
                422, "scanned_at_out_of_range",
                "'scanned_at' is more than 5 minutes ahead of the server or over 2 days old: check the phone's clock.",
                field="scanned_at",
            )
    direction = data.get("direction", "in")
    if direction not in ("in", "out"):
        raise Problem(422, "invalid_field", "'direction' must be \"in\" (arriving) or \"out\" (leaving).", field="direction")
    return ScanBody(
        direction=direction, code=code if code is not None else None, enrolment_id=enrolment_id if code is None else None,
        session_id=optional_int(data, "session_id"), nonce=nonce, device_time=device_time, method=method,
    )
