"""The one place a scan happens: load, decide (rules.decide_scan), write in one short transaction,
then publish the event for live views. Camera, search, API and offline sync all come through here."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta

from . import batch, rules
from .scan_types import ScanInput, ScanOutcome, UndoOutcome, iso, new_scan, touch_due
from ..live.broadcast import Broadcaster
from ..errors import Problem
from ..models import STATED_TIME_METHODS, BadgeHolder, CourseSession
from ..store import completion, courses, devices, door, people, scans
from ..store.db import Database, NeedsTransaction
from ..store.dialect import is_postgres
from ..store.scans import ScanRow

METHODS = ("camera", "search", "api", "sync", "manual", "paper", "group", "room_code")  # group: units/group.py
DIRECTIONS = ("in", "out")  # out: an exit scan ("Ra về / Leaving"), see rules.decide_exit
DEVICE_METHODS = ("camera", "search", "api", "sync")


def record_scan_tx(conn: sqlite3.Connection, scan: ScanInput, now: datetime, *, optimistic: bool = False) -> ScanOutcome:
    """Load, decide and write one scan. Runs inside the caller's write transaction (optimistic: see
    record_scan_optimistic)."""
    scanned_at = scan.device_time or now
    if scan.device_id is not None:  # the rules, the device and a retry's first scan in one read
        # PostgreSQL: with the badge's holder in the same statement (one round trip fewer), locked in a transaction.
        holder_code = scan.code if scan.direction == "in" and is_postgres(conn) else None
        context = door.scan_context(conn, scan.course_id, scan.device_id, scan.nonce, holder_code, lock=not optimistic)
        course_rules = (context.sessions, context.after_end) if context is not None else None
    else:
        course_rules = courses.get_rules(conn, scan.course_id)
    if course_rules is None:
        raise Problem(404, "course_not_found", f"There is no course {scan.course_id}.")
    sessions, after_end = course_rules
    session = _session(sessions, scan.session_id)

    if scan.device_id is not None:
        device = context.device
        # A scan made offline before the device expired still counts when it syncs within the grace after
        # the expiry (rules.device_refusal); after it, or from a revoked device, nothing it sends is counted.
        refusal = rules.device_refusal(
            revoked=device.revoked_at is not None, expires_at=device.expires_at, now=now,
            stated_at=scanned_at if scan.method in STATED_TIME_METHODS else None, sync_grace=scan.sync_grace,
        ) if device else rules.Reason.DEVICE_REVOKED
        if refusal:
            if context.replayed_scan_id is not None:
                return _refused_device(refusal, scanned_at, now)  # its retry: already logged
            # Kept as a refused scan so that an organiser sees what a lost or revoked phone tried.
            row_id = scans.insert_scan(conn, new_scan(scan, None, session, refusal, False, None, scanned_at, now))
            return _outcome(conn, scans.get_scan(conn, row_id), replayed=False)
        if context.replayed_scan_id is not None:
            return _outcome(conn, scans.get_scan(conn, context.replayed_scan_id), replayed=True)
        if touch_due(device, now):
            devices.touch_device(conn, scan.device_id, now)
        if scan.method in STATED_TIME_METHODS:
            scanned_at = max(scanned_at, device.created_at)  # nothing was scanned before the phone was paired

    # The rule time: the server's clock, except for scans made offline and synced later, for an
    # organiser's manual check-in that states when the person really arrived (device_time), and for
    # ticks on a paper sign-in sheet entered afterwards (device_time: when the sheet was signed).
    at = scanned_at if scan.method in STATED_TIME_METHODS else now
    if scan.direction == "out":
        return _record_exit(conn, scan, sessions, session, at, scanned_at, now)
    if session is None and scan.session_id is None:
        session = rules.pick_session(sessions, at)
    # The person's enrolment stays locked from here (PostgreSQL: from the context read) to the commit (other
    # instances scan at the same time), so two scans of one badge are decided one after the other and exactly one
    # checks in (optimistic: nothing is locked, the check-in's write is guarded instead).
    earlier = None
    if optimistic:  # read with the device's context, nothing locked: the write below is guarded instead
        holder = context.holder
        if holder is not None and session is not None and holder.course_id == scan.course_id:
            earlier = context.checkins.get(session.id)
    elif scan.code is not None and session is not None and not is_postgres(conn):
        holder, earlier = people.get_badge_holder_and_checkin(conn, scan.code, session.id)  # one statement
        if holder is not None and holder.course_id != scan.course_id:
            earlier = None
    else:
        if scan.device_id is not None and context.has_holder:
            holder = context.holder  # read and locked with the device's context (PostgreSQL)
        else:
            holder = _locked_holder(conn, scan)
        if holder is not None and session is not None and holder.course_id == scan.course_id:
            earlier = scans.get_checkin(conn, holder.enrolment_id, session.id)
    decision = rules.decide_scan(
        badge=holder, course_id=scan.course_id, session=session, earlier=earlier, at=at, after_end=after_end,
        stated_time=scan.method in STATED_TIME_METHODS,
    )
    if (scan.room_key_hash is not None and holder is not None and holder.course_id == scan.course_id
            and not completion.bind_room_device(conn, holder.enrolment_id, scan.room_key_hash, now)):
        decision = rules.Decision(rules.Reason.OTHER_DEVICE)  # a second phone: refused, and on record
    # A plain check-in's live event is its scan row, numbered in the course's event order (SQLite: the number,
    # the row and the attendance go last, the number locks the course's row until the commit; PostgreSQL: the
    # row commits unnumbered, its event is PENDING and the relay numbers it after the commit, see
    # scans.insert_checkin); a scan that supersedes another writes a correction event instead.
    row = new_scan(
        scan, holder, session, decision.reason, decision.accepted,
        decision.first.scan_id if decision.first else None, scanned_at, now,
    )
    event = None
    if not decision.accepted:
        scan_id = scans.insert_scan(conn, row)
    else:
        status = "present" if decision.reason == rules.Reason.CHECKED_IN else "late"
        if decision.supersedes is None:
            if not optimistic:
                scan_id, seq = scans.insert_checkin(conn, row, status, at, now)
            else:  # written only if still the first: else decided again, locked
                scan_id, seq = scans.insert_checkin_if_first(conn, row, status, at, now), scans.PENDING
                if scan_id is None:
                    raise NeedsTransaction("checked in meanwhile")
            event = scans.checkin_event(seq, scan.course_id, scan_id, session.id, holder.enrolment_id,
                                        holder.full_name, holder.unit, decision.reason, scan.method, at, now)
        elif optimistic:
            raise NeedsTransaction("a check-in superseded")  # the person's rows change together: locked
        else:
            _recount_departure(conn, scan.course_id, holder.enrolment_id, session, at, now)
            # Both scans stay in the log; the earlier one now counts. Live views recount.
            scan_id = scans.insert_scan(conn, row)
            scans.upsert_attendance(conn, holder.enrolment_id, session.id, status, scan_id, at, now)
            event = scans.insert_event(conn, scan.course_id, "correction", {
                "scan_id": scan_id, "session_id": session.id, "enrolment_id": holder.enrolment_id,
                "name": holder.full_name, "unit": holder.unit, "status": status, "method": scan.method,
                "at": iso(at), "supersedes_scan_id": decision.supersedes.scan_id,
            }, now)
    return ScanOutcome(
        scan_id=scan_id, reason=decision.reason, accepted=decision.accepted, replayed=False, holder=holder,
        session=session, first_checked_in_at=decision.first.at if decision.first else None,
        scanned_at=scanned_at, recorded_at=now, event=event,
    )


def record_scan_optimistic(conn: sqlite3.Connection, scan: ScanInput, now: datetime) -> ScanOutcome:
    """record_scan_tx on PostgreSQL without a transaction, for a paired phone's scan of a badge at the entrance
    (optimistic_door): each statement commits on its own, nothing is locked, so a first check-in or a duplicate
    is two round trips (the context read with the holder and their check-ins, then one write) instead of five.

    The same load and the same rules.decide_scan, on what was read. What a concurrent scan could change is
    guarded, not locked: a check-in is written only if the person has none in the session when it is written
    (scans.insert_checkin_if_first). When that guard fails, or the decision would change two rows of the person
    (a check-in superseding another), it raises NeedsTransaction: nothing was written, and the scan runs again as
    record_scan_tx, locked. A refusal (duplicate, unknown, revoked, ...) is one row of the log, decided on what
    was read when it was read, as a locked read just before that scan's commit could have seen it."""
    return record_scan_tx(conn, scan, now, optimistic=True)


def batch_door(scan: ScanInput) -> bool:
    """Whether a scan is decided in a batch with the scans that arrive with it (door/batch.py): a phone's live scan
    of a badge at the entrance (an offline scan, synced with its own time, goes scan by scan)."""
    return (scan.device_id is not None and scan.code is not None and scan.direction == "in"
            and scan.room_key_hash is None and scan.method not in STATED_TIME_METHODS)


def optimistic_door(db: Database, scan: ScanInput) -> bool:
    """Whether a scan goes through record_scan_optimistic first: PostgreSQL, a phone, a badge code, entering."""
    return (db.dialect == "postgresql" and scan.device_id is not None and scan.code is not None
            and scan.direction == "in" and scan.room_key_hash is None)


def _record_exit(conn, scan: ScanInput, sessions, session, at: datetime, scanned_at: datetime,
                 now: datetime) -> ScanOutcome:
    """An exit scan: the departure of a person checked in to the session, through the same log and locks."""
    holder = _locked_holder(conn, scan)
    own = holder is not None and holder.course_id == scan.course_id
    stays = completion.list_stays(conn, holder.enrolment_id) if own else {}
    if session is None and scan.session_id is None:
        session = rules.pick_exit_session(sessions, at, stays)
    exit_on, by_session = completion.exit_rules(conn, scan.course_id) if own else (False, {})
    exit_rule = by_session.get(session.id) if session is not None else None
    decision = rules.decide_exit(
        badge=holder, course_id=scan.course_id, session=session,
        stay=stays.get(session.id) if session is not None else None,
        exit_scans=exit_rule.exit_scans if exit_rule else exit_on,
    )
    scan_id = scans.insert_scan(
        conn,
        new_scan(scan, holder, session, decision.reason, decision.accepted,
                  decision.first.scan_id if decision.first else None, scanned_at, now),
    )
    event = None
    if decision.reason == rules.Reason.CHECKED_OUT:
        out_at = min(at, session.ends_at)
        early = rules.left_early(session, decision.first.at, out_at, exit_rule.min_present_pct)
        completion.set_departure(conn, holder.enrolment_id, session.id, scan_id, out_at, early, now)
        event = scans.insert_event(conn, scan.course_id, "checkout", {
            "scan_id": scan_id, "session_id": session.id, "enrolment_id": holder.enrolment_id,
            "name": holder.full_name, "unit": holder.unit, "left_early": early, "method": scan.method,
            "at": iso(out_at),
        }, now)
    return ScanOutcome(
        scan_id=scan_id, reason=decision.reason, accepted=decision.accepted, replayed=False, holder=holder,
        session=session, first_checked_in_at=decision.first.at if decision.first else None,
        scanned_at=scanned_at, recorded_at=now, event=event,
    )


def _locked_holder(conn, scan: ScanInput) -> BadgeHolder | None:
    """The scanned badge's holder (None: no such badge), or the participant searched for (404 when not of this
    course), with their enrolment locked to the commit (see store/dialect.py)."""
    if scan.code is not None:
        return people.get_badge_holder(conn, scan.code, lock=True)
    holder = people.get_enrolment_badge_holder(conn, scan.enrolment_id, lock=True)
    if holder is None or holder.course_id != scan.course_id:
        raise Problem(404, "participant_not_found", "No such participant on this course.")
    return holder


def _refused_device(reason: str, scanned_at: datetime, now: datetime) -> ScanOutcome:
    """The answer to a revoked or expired device retrying a scan it already sent: nothing more is stored."""
    return ScanOutcome(
        scan_id=0, reason=reason, accepted=False, replayed=True, holder=None, session=None,
        first_checked_in_at=None, scanned_at=scanned_at, recorded_at=now,
    )


def _session(sessions: list[CourseSession], session_id: int | None) -> CourseSession | None:
    if session_id is None:
        return None
    for session in sessions:
        if session.id == session_id:
            return session
    raise Problem(422, "unknown_session", f"Session {session_id} is not a session of this course.", field="session_id")


def _outcome(conn: sqlite3.Connection, row: ScanRow, *, replayed: bool) -> ScanOutcome:
    """Rebuild the answer a stored scan gave, from the log."""
    holder = people.get_badge_holder(conn, row.code) if row.code else None
    session = _session(courses.list_sessions(conn, row.course_id), row.session_id) if row.session_id else None
    first = scans.get_scan(conn, row.first_scan_id) if row.first_scan_id else None
    first_at = _rule_time(first) if first is not None else None
    return ScanOutcome(
        scan_id=row.id, reason=row.reason, accepted=row.accepted, replayed=replayed, holder=holder,
        session=session, first_checked_in_at=first_at, scanned_at=row.scanned_at, recorded_at=row.recorded_at,
    )


def undo_scan_tx(
    conn: sqlite3.Connection, course_id: int, scan_id: int, now: datetime, *, device_id: int | None = None,
    organiser_id: int | None = None, reason: str = "", device_window: timedelta = timedelta(minutes=5),
) -> UndoOutcome:
    """Undo an accepted scan: the undo is recorded, the scan stays, the attendance it made goes."""
    row = scans.get_scan(conn, scan_id)
    if row is None or row.course_id != course_id:
        raise Problem(404, "scan_not_found", f"Scan {scan_id} was not found on this course.")
    if not row.accepted:
        raise Problem(409, "scan_not_accepted", "Only an accepted check-in can be undone; this scan was refused.")
    if row.undone_at is not None:
        raise Problem(409, "already_undone", "This check-in was already undone.")
    if device_id is not None:
        if row.device_id != device_id:
            raise Problem(403, "not_your_scan", "A phone can only undo its own check-ins; ask an organiser.")
        if now - row.recorded_at > device_window:
            raise Problem(403, "undo_too_late", "This check-in is too old to undo from the door; ask an organiser.")
    scans.insert_undo(conn, scan_id, device_id, organiser_id, reason, now)
    people.lock_enrolment(conn, row.enrolment_id)
    if row.reason == rules.Reason.CHECKED_OUT:
        # Undoing a departure: the person is back in the session as if they had not left.
        if completion.checkout_scan_of(conn, row.enrolment_id, row.session_id) == scan_id:
            completion.set_departure(conn, row.enrolment_id, row.session_id, None, None, False, now)
        return UndoOutcome(scan_id, now, scans.insert_event(
            conn, course_id, "undo", {"scan_id": scan_id, "session_id": row.session_id,
                                      "enrolment_id": row.enrolment_id}, now))
    counted = scans.get_checkin(conn, row.enrolment_id, row.session_id)
    if counted is not None and counted.scan_id == scan_id:
        _count_what_stands(conn, row.enrolment_id, row.session_id, now)
    if organiser_id is not None:
        scans.insert_audit(
            conn, course_id, "undo_scan", now, organiser_id=organiser_id, subject=f"scan {scan_id}", detail=reason
        )
    event = scans.insert_event(
        conn, course_id, "undo",
        {"scan_id": scan_id, "session_id": row.session_id, "enrolment_id": row.enrolment_id},
        now,
    )
    return UndoOutcome(scan_id, now, event)


def _count_what_stands(conn: sqlite3.Connection, enrolment_id: int, session_id: int, now: datetime) -> None:
    """The check-in that counted was undone. A scan it had superseded (accepted, made later, synced earlier)
    counts again, the earliest first; with none, the excuse it had replaced comes back; else nothing counts."""
    standing = scans.list_standing_checkins(conn, enrolment_id, session_id)
    if not standing:
        scans.drop_checkin(conn, enrolment_id, session_id, now)
        return
    first = min(standing, key=lambda s: (_rule_time(s), s.id))
    status = "present" if first.reason == rules.Reason.CHECKED_IN else "late"
    scans.upsert_attendance(conn, enrolment_id, session_id, status, first.id, _rule_time(first), now)
    course_id = conn.execute("SELECT course_id FROM sessions WHERE id = ?", (session_id,)).fetchone()[0]
    session = next(s for s in courses.list_sessions(conn, course_id) if s.id == session_id)
    _recount_departure(conn, course_id, enrolment_id, session, _rule_time(first), now)


def _recount_departure(conn, course_id: int, enrolment_id: int, session: CourseSession, checked_in_at: datetime,
                       now: datetime) -> None:
    """The check-in that counts changed under a recorded departure: the time present, and so left_early, with it."""
    stay = completion.list_stays(conn, enrolment_id).get(session.id)
    if stay is None or stay.checked_out_at is None:
        return
    _on, by_session = completion.exit_rules(conn, course_id)
    rule = by_session.get(session.id)
    early = rules.left_early(session, checked_in_at, stay.checked_out_at, rule.min_present_pct if rule else 0)
    scan_id = completion.checkout_scan_of(conn, enrolment_id, session.id)
    completion.set_departure(conn, enrolment_id, session.id, scan_id, stay.checked_out_at, early, now)


def _rule_time(scan: ScanRow) -> datetime:
    """The time a scan was decided on (see record_scan_tx)."""
    return scans.rule_time(scan.method, scan.scanned_at, scan.recorded_at)


async def record_scan(db: Database, broadcaster: Broadcaster, scan: ScanInput, now: datetime) -> ScanOutcome:
    """Record a scan; the answer exists only once its transaction has committed (not its live event's number
    on PostgreSQL: publishing a PENDING event has the relay number it next, see live/relay.py)."""
    with broadcaster.give_way():
        # A phone's live scan of a badge is decided with the scans that arrive with it (door/batch.py); one the
        # batch leaves alone (a retry, a refused device, ...) comes through record_scan_tx as any other.
        outcome = await batch.decide(db, scan, now) if batch_door(scan) else batch.ALONE
        if outcome is batch.ALONE:
            if optimistic_door(db, scan):
                outcome = await db.write_optimistic(record_scan_optimistic, record_scan_tx, scan, now)
            else:
                outcome = await db.write(record_scan_tx, scan, now)
    if outcome.event is not None:
        broadcaster.publish(outcome.event)
    return outcome


async def undo_scan(db: Database, broadcaster: Broadcaster, course_id: int, scan_id: int, now: datetime, **who) -> UndoOutcome:
    with broadcaster.give_way():
        outcome = await db.write(lambda conn: undo_scan_tx(conn, course_id, scan_id, now, **who))
    if outcome.event is not None:
        broadcaster.publish(outcome.event)
    return outcome
