"""Time: an injectable clock, and the one format times are stored in (UTC ISO 8601)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    return datetime.now(timezone.utc)


def to_db(moment: datetime) -> str:
    """Stored form: UTC, microseconds, fixed width, so text order is time order."""
    global _last
    last = _last
    if last[0] is moment:  # a scan stores the same "now" several times: format it once
        return last[1]
    if moment.tzinfo is None:
        raise ValueError("naive datetime: times must carry a time zone")
    # isoformat is several times faster than strftime.
    text = moment.astimezone(timezone.utc).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"
    _last = (moment, text)
    return text


_last: tuple[datetime | None, str] = (None, "")


def from_db(value: str | None) -> datetime | None:
    if value is None:
        return None
    return datetime.fromisoformat(value)  # C-fast, and reads the trailing "Z" as UTC


def parse_client_time(value: str) -> datetime:
    """An ISO 8601 time sent by a device; it must carry an offset (a phone knows its zone)."""
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError("time without offset")
    if not 2000 <= moment.year <= 2100:
        raise ValueError("time out of range")  # also keeps astimezone() clear of OverflowError
    return moment.astimezone(timezone.utc)
