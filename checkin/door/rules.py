"""The pure rules of the door: which session a scan is for, and what a scan decides.

No I/O and no clock here: everything, the time included, comes in as arguments, so the same
function decides every scan (camera, search, API, offline sync) and is tested by a table.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from ..models import BadgeHolder, Checkin, CourseSession


class Reason(StrEnum):
    """Reason codes are part of the API: add new ones, never rename."""

    CHECKED_IN = "checked_in"
    CHECKED_IN_LATE = "checked_in_late"
    ALREADY_CHECKED_IN = "already_checked_in"
    UNKNOWN_CODE = "unknown_code"
    BADGE_REVOKED = "badge_revoked"
    OTHER_COURSE = "other_course"
    SESSION_NOT_OPEN = "session_not_open"
    SESSION_CLOSED = "session_closed"
    NO_SESSION = "no_session"
    # Recorded for a known device that may no longer scan; answered as a 4xx, never counted.
    DEVICE_REVOKED = "device_revoked"
    DEVICE_EXPIRED = "device_expired"


ACCEPTED = frozenset({Reason.CHECKED_IN, Reason.CHECKED_IN_LATE})
# How long after a device's expiry the scans it made offline before it may still reach the server
# (CHECKIN_DEVICE_SYNC_GRACE_MINUTES); see device_refusal.
SYNC_GRACE = timedelta(minutes=15)


@dataclass(frozen=True, slots=True)
class Decision:
    reason: Reason
    first: Checkin | None = None  # for already_checked_in: the scan that counts
    supersedes: Checkin | None = None  # an accepted scan made before the one that counted: it counts now

    @property
    def accepted(self) -> bool:
        return self.reason in ACCEPTED


def device_refusal(
    *, revoked: bool, expires_at: datetime, now: datetime, stated_at: datetime | None,
    sync_grace: timedelta = SYNC_GRACE,
) -> Reason | None:
    """Whether a device may record a scan now, or why not (device_revoked, device_expired).

    now: when the scan reaches the server. stated_at: for a scan made offline and synced later, the
    time the device says it was made (None: the scan is judged at `now`).

    A revoked device is refused whatever the time. A scan judged at `now` needs an unexpired device.
    A synced scan is judged at its stated time only if it was made before the expiry *and* reaches the
    server before the expiry + sync_grace: a queue that was under way when the pairing ran out still
    drains, but a stated time proves nothing on its own (a phone can say anything), so once the grace is
    over an expired device is refused whatever `scanned_at` says.
    """
    if revoked:
        return Reason.DEVICE_REVOKED
    if stated_at is None:
        return Reason.DEVICE_EXPIRED if now >= expires_at else None
    if now >= expires_at + sync_grace or stated_at >= expires_at:
        return Reason.DEVICE_EXPIRED
    return None


def pick_session(sessions: Sequence[CourseSession], at: datetime) -> CourseSession | None:
    """The session a scan at `at` is for when the device names none.

    Among sessions whose check-in window (opening to end) contains `at`, the one in progress
    wins (the latest started, when they overlap); otherwise the next to start.
    """
    open_now = [s for s in sessions if s.opens_at <= at < s.ends_at]
    if not open_now:
        return None
    started = [s for s in open_now if s.starts_at <= at]
    if started:
        return max(started, key=lambda s: (s.starts_at, s.position))
    return min(open_now, key=lambda s: (s.starts_at, s.position))


def decide_scan(
    *,
    badge: BadgeHolder | None,
    course_id: int,
    session: CourseSession | None,
    earlier: Checkin | None,
    at: datetime,
    after_end: str = "refuse",
    stated_time: bool = False,
) -> Decision:
    """Decide one scan.

    badge: who the code belongs to (None: no such code anywhere).
    session: the session scanned for (chosen by the device or by `pick_session`), None if none.
    earlier: the accepted scan that already counts for this badge's holder in that session. When this
        scan happened before it (an offline phone syncing late), the first one counts: this scan is
        decided on its own time and, if accepted, supersedes the other.
    at: when the scan happened (the server's time, or the device's for offline sync).
    after_end: the course's policy for a scan after the session ended: "refuse" or "late".
    stated_time: `at` is a time the scan states (offline sync, an organiser's stated arrival, a paper
        sheet), not the server's clock on arrival. Only such a scan can be earlier than the one that counts:
        two live scans of one badge at the same moment (at two doors, or two server instances whose clocks
        differ by a millisecond) are decided in the order they are written, the second already_checked_in.
    """
    if badge is None:
        return Decision(Reason.UNKNOWN_CODE)
    if badge.course_id != course_id:
        return Decision(Reason.OTHER_COURSE)
    if badge.revoked:
        return Decision(Reason.BADGE_REVOKED)
    if session is None:
        return Decision(Reason.NO_SESSION)
    if earlier is not None and (earlier.at <= at or not stated_time):
        return Decision(Reason.ALREADY_CHECKED_IN, first=earlier)
    if at < session.opens_at:
        return Decision(Reason.SESSION_NOT_OPEN)
    if at >= session.ends_at:
        if after_end != "late":
            return Decision(Reason.SESSION_CLOSED)
        return Decision(Reason.CHECKED_IN_LATE, supersedes=earlier)
    if at > session.late_from:
        return Decision(Reason.CHECKED_IN_LATE, supersedes=earlier)
    return Decision(Reason.CHECKED_IN, supersedes=earlier)
