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
    # Exit scans ("Ra về / Leaving"), when the course or session asks for them: see decide_exit.
    CHECKED_OUT = "checked_out"
    NOT_CHECKED_IN = "not_checked_in"
    ALREADY_CHECKED_OUT = "already_checked_out"
    EXIT_SCANS_OFF = "exit_scans_off"
    # A room code check-in from a phone other than the one the badge is bound to (see completion/room_code.py).
    OTHER_DEVICE = "other_device"


ACCEPTED = frozenset({Reason.CHECKED_IN, Reason.CHECKED_IN_LATE})
# An accepted exit scan: recorded as accepted (it can be undone) but it is not a check-in.
DEPARTED = frozenset({Reason.CHECKED_OUT})
# How long after a session's end an exit scan still counts as leaving that session.
EXIT_GRACE = timedelta(minutes=30)
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
        return self.reason in ACCEPTED or self.reason in DEPARTED


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



def _refused_before_the_session(badge, course_id: int, session) -> Decision | None:
    """What any scan, in or out, is refused for whatever the time: an unknown, foreign or revoked badge, or no
    session to count it in."""
    if badge is None:
        return Decision(Reason.UNKNOWN_CODE)
    if badge.course_id != course_id:
        return Decision(Reason.OTHER_COURSE)
    if badge.revoked:
        return Decision(Reason.BADGE_REVOKED)
    if session is None:
        return Decision(Reason.NO_SESSION)
    return None

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
    refused = _refused_before_the_session(badge, course_id, session)
    if refused is not None:
        return refused
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


# --- exit scans --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Stay:
    """A person's check-in in one session and, once they left through an exit scan, when."""

    checkin: Checkin
    checked_out_at: datetime | None = None


def pick_exit_session(
    sessions: Sequence[CourseSession], at: datetime, stays: dict[int, Stay], grace: timedelta = EXIT_GRACE,
) -> CourseSession | None:
    """The session an exit scan at `at` is for when the device names none.

    Among sessions whose window (opening to end + grace) holds `at`, the one this person is in (checked in,
    not yet out) wins, the latest started first: leaving between two sessions ends the one they were in.
    Without one, the session a check-in would pick (or the last one just ended), which then answers
    not_checked_in or already_checked_out.
    """
    near = [s for s in sessions if s.opens_at <= at < s.ends_at + grace]
    inside = [s for s in near if s.id in stays and stays[s.id].checked_out_at is None]
    if inside:
        return max(inside, key=lambda s: (s.starts_at <= at, s.starts_at, s.position))
    current = pick_session(sessions, at)
    if current is not None:
        return current
    ended = [s for s in near if s.ends_at <= at]
    return max(ended, key=lambda s: (s.ends_at, s.position)) if ended else None


def decide_exit(
    *, badge: BadgeHolder | None, course_id: int, session: CourseSession | None, stay: Stay | None,
    exit_scans: bool,
) -> Decision:
    """Decide one exit scan ("Ra về / Leaving").

    stay: this person's check-in in the session (None: not checked in), with its departure if any.
    exit_scans: whether the course (or the session) asks for exit scans; without them nothing changes.
    """
    refused = _refused_before_the_session(badge, course_id, session)
    if refused is not None:
        return refused
    if not exit_scans:
        return Decision(Reason.EXIT_SCANS_OFF)
    if stay is None:
        return Decision(Reason.NOT_CHECKED_IN)
    if stay.checked_out_at is not None:
        return Decision(Reason.ALREADY_CHECKED_OUT, first=stay.checkin)
    return Decision(Reason.CHECKED_OUT, first=stay.checkin)


def time_present(session: CourseSession, checked_in_at: datetime, checked_out_at: datetime | None) -> timedelta:
    """How long of the session a person was there: from their check-in (or the start) to their exit scan
    (or the end). Zero when they left before it started."""
    start = max(checked_in_at, session.starts_at)
    end = session.ends_at if checked_out_at is None else min(checked_out_at, session.ends_at)
    return max(end - start, timedelta(0))


def left_early(session: CourseSession, checked_in_at: datetime, checked_out_at: datetime | None,
               min_present_pct: int) -> bool:
    """Whether a departure leaves the person below the session's minimum share (percent of its length).

    No departure recorded (no exit scan, or exit scans off): never left early."""
    if checked_out_at is None or min_present_pct <= 0:
        return False
    length = session.ends_at - session.starts_at
    return time_present(session, checked_in_at, checked_out_at) * 100 < length * min_present_pct
