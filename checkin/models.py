"""The domain's small immutable records, shared by the rules, the store and the views."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta


# Scan methods whose stated time (the device's, or the organiser's) is the time the rule judges: scans made
# offline and synced later, an organiser's check-in that says when the person really came, a paper sheet.
# Every other scan is judged at the server's clock when it arrives.
STATED_TIME_METHODS = ("sync", "manual", "paper")


@dataclass(frozen=True, slots=True)
class Course:
    id: int
    title: str
    course_date: date
    venue: str
    organiser_name: str
    time_zone: str
    open_before_min: int
    late_after_min: int
    after_end: str  # "refuse" | "late": what a scan after a session's end gets
    min_sessions_for_certificate: int | None
    archived_at: datetime | None


@dataclass(frozen=True, slots=True)
class CourseSession:
    """A topic session with its check-in window resolved from the course defaults."""

    id: int
    course_id: int
    position: int
    title: str
    starts_at: datetime
    ends_at: datetime
    open_before_min: int
    late_after_min: int
    own_open_before_min: int | None = None  # the per-session override, None when the course default applies
    own_late_after_min: int | None = None
    # Derived once: the rule reads them for every session on every scan.
    opens_at: datetime = field(init=False, compare=False)
    late_from: datetime = field(init=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "opens_at", self.starts_at - timedelta(minutes=self.open_before_min))
        object.__setattr__(self, "late_from", self.starts_at + timedelta(minutes=self.late_after_min))


@dataclass(frozen=True, slots=True)
class BadgeHolder:
    """Who a badge code belongs to, as the door needs it."""

    code: str
    revoked: bool
    enrolment_id: int
    course_id: int
    course_title: str
    participant_id: int
    full_name: str
    unit: str
    position: str


@dataclass(frozen=True, slots=True)
class Checkin:
    """The accepted scan that counts for a participant in a session."""

    scan_id: int
    at: datetime


@dataclass(frozen=True, slots=True)
class Device:
    id: int
    course_id: int
    label: str
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None
    last_seen_at: datetime | None

    def refusal(self, now: datetime) -> str | None:
        """Why this device may not scan now, or None."""
        if self.revoked_at is not None:
            return "device_revoked"
        if now >= self.expires_at:
            return "device_expired"
        return None


@dataclass(frozen=True, slots=True)
class Organiser:
    id: int
    username: str
    display_name: str
    is_admin: bool
    disabled: bool = False  # by an administrator: cannot sign in, and has no session
