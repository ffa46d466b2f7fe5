"""What a scan is and what it answers, shared by the scan-by-scan path (scanning.py) and the batches (batch.py):
the scan as the doors hand it over (ScanInput), its answer (ScanOutcome), its row in the log (new_scan), and when a
device's "last seen" is written again."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from . import rules
from ..models import BadgeHolder, CourseSession, Device
from ..store.scans import Event, NewScan

TOUCH_EVERY = timedelta(seconds=30)  # how fresh a device's "last seen" is kept


@dataclass(frozen=True, slots=True)
class ScanInput:
    """One scan attempt, validated by the caller. Exactly one of code / enrolment_id is given."""

    course_id: int
    method: str
    code: str | None = None
    enrolment_id: int | None = None  # a check-in found by name search, or by an organiser
    session_id: int | None = None  # None: the session whose window holds the scan time
    nonce: str | None = None
    device_time: datetime | None = None
    device_id: int | None = None
    organiser_id: int | None = None
    note: str = ""
    direction: str = "in"
    # A room code check-in (method room_code): the hash of the phone's key; the badge is bound to its first phone.
    room_key_hash: str | None = None
    # How long after the device's expiry its offline scans may still arrive (CHECKIN_DEVICE_SYNC_GRACE_MINUTES).
    sync_grace: timedelta = rules.SYNC_GRACE


@dataclass(slots=True)  # not frozen: made on every scan, and a frozen __init__ costs twice
class ScanOutcome:
    scan_id: int
    reason: str
    accepted: bool
    replayed: bool
    holder: BadgeHolder | None
    session: CourseSession | None
    first_checked_in_at: datetime | None
    scanned_at: datetime
    recorded_at: datetime
    event: Event | None = None

    def as_json(self) -> dict:
        """The API's answer; the same for a first answer and a replay of the same nonce."""
        holder, session = self.holder, self.session
        return {
            "scan_id": self.scan_id,
            "reason": self.reason,
            "accepted": self.accepted,
            "replayed": self.replayed,
            "participant": None if holder is None else {
                "name": holder.full_name, "unit": holder.unit, "position": holder.position,
            },
            "session": None if session is None else {"id": session.id, "title": session.title},
            "first_checked_in_at": iso(self.first_checked_in_at),
            "other_course": {"title": holder.course_title} if self.reason == rules.Reason.OTHER_COURSE else None,
            "scanned_at": iso(self.scanned_at),
            "recorded_at": iso(self.recorded_at),
        }


@dataclass(frozen=True, slots=True)
class UndoOutcome:
    scan_id: int
    undone_at: datetime
    event: Event | None


def iso(moment: datetime | None) -> str | None:
    return moment.isoformat().replace("+00:00", "Z") if moment else None


def new_scan(scan, holder, session, reason, accepted, first_scan_id, scanned_at, now, event_seq=None) -> NewScan:
    own = holder is not None and holder.course_id == scan.course_id
    return NewScan(
        course_id=scan.course_id, session_id=session.id if session else None, device_id=scan.device_id,
        organiser_id=scan.organiser_id, enrolment_id=holder.enrolment_id if own else None,
        code=scan.code if scan.code is not None else (holder.code if holder else ""), method=scan.method,
        reason=str(reason), accepted=accepted, first_scan_id=first_scan_id, nonce=scan.nonce,
        scanned_at=scanned_at, recorded_at=now, note=scan.note, event_seq=event_seq,
    )


def touch_due(device: Device, now: datetime) -> bool:
    """Whether a scan from this device writes its "last seen" (at most every TOUCH_EVERY)."""
    return device.last_seen_at is None or now - device.last_seen_at > TOUCH_EVERY
