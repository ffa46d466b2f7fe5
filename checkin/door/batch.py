"""The door's scans, many in one transaction, in set-based statements (both stores).

On PostgreSQL every statement is a round trip and a share of the server's work per statement, and a phone's scan
took two of its own (scanning.record_scan_optimistic) plus a share of the numbering after its commit. Measured
without HTTP (bench/pg_write_shapes.py), a first check-in cost 0.9-1.0 ms of CPU written that way, about the same
written statement by statement inside one transaction, and 0.3-0.4 ms written set-based: the cost is per
statement, not per commit. So the scans that arrive together are decided together:

1. one transaction; the courses' rules, the devices and the retried nonces of the whole batch read at once;
2. the badges' holders read and their enrolments locked in one statement (in enrolment order, so that two batches
   never wait on each other in a circle), then their check-ins read after the lock (a new snapshot: it sees what the
   lock's previous holder committed), as record_scan_tx does for one scan;
3. each scan decided by rules.decide_scan, in arrival order, on what was read and on what the batch has decided
   before it (two scans of one badge in one batch: the second is already_checked_in);
4. the check-ins take the course's next event numbers (the course's row locked to the commit, as next_event_seq:
   numbers in commit order), unless another transaction holds that row: then they commit unnumbered and the relay
   numbers them, as it numbers the scan-by-scan path's (a scan's answer never waits for the course's row); every
   scan row and attendance row goes in one statement;
5. one commit; then each scan's answer and live event.

A scan the batch does not decide, because it needs what only the scan-by-scan path does (a course or session that
does not exist, a revoked or expired device, a retried nonce, a check-in that would supersede another), is
written by nothing here and goes through scanning.record_scan_tx afterwards, on its own: the same one path, the
same answers. Only a paired phone's live scan of a badge at the entrance comes here (scanning.batch_door).

PostgreSQL: one batch runs at a time per instance and database (DoorBatcher); the scans that arrive while it runs
make the next one, so a quiet door answers each scan at once and a busy one answers many per transaction.

SQLite: the same statements in its dialect (_SQLiteSQL: nothing to lock, one writer holds the database), and no
batcher of its own: each scan is queued for the writer as a batch of one, and the writer, which runs what is queued
together in one transaction anyway, gathers consecutive ones into one decide_batch (store/sqlite.py, `gathers`).
There a statement is no round trip, and B-tree work and the commit are most of a check-in: measured without HTTP
(16 scans a batch) a first check-in cost the writer 0.115 ms of CPU scan by scan (5.1 statements each) and 0.098
ms gathered (0.7 statements each), but a batch of one costs more than the scan alone (eleven statements against
seven); through HTTP, where batches are of every size, no difference beyond the noise (bench/README.md).
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from . import rules
from .scan_types import ScanOutcome, new_scan, touch_due
from ..clock import from_db, to_db
from ..models import STATED_TIME_METHODS, BadgeHolder, Checkin, CourseSession, Device
from ..store import courses, devices, people, scans
from ..store.dialect import is_postgres

log = logging.getLogger("checkin.door.batch")

MAX_BATCH = 64  # scans decided in one transaction at most

class _PostgresSQL:
    """The batch's statements on PostgreSQL: arrays as parameters, the holders locked, ids from the sequence."""

    COURSES = "SELECT id, rules_version, after_end FROM courses WHERE id = ANY(?)"
    DEVICES = ("SELECT id, course_id, label, created_at, expires_at, revoked_at, last_seen_at FROM devices"
               " WHERE id = ANY(?)")
    RETRIED = ("SELECT device_id, nonce FROM scans"
               " WHERE (device_id, nonce) IN (SELECT * FROM unnest(?::bigint[], ?::text[]))")
    HOLDERS = people.HOLDER_SELECT + " WHERE b.code = ANY(?) ORDER BY e.id FOR UPDATE OF e"
    CHECKINS = ("SELECT enrolment_id, session_id, scan_id, checked_in_at FROM attendance"
                " WHERE enrolment_id = ANY(?) AND status IN ('present', 'late')")
    IDS = "SELECT nextval(pg_get_serial_sequence('scans', 'id')) FROM generate_series(1, ?)"
    # The course's next numbers, unless another transaction holds its row (a numbering, an undo, another
    # instance's batch committing): the check-ins then commit unnumbered and the relay numbers them
    # (scans.number_checkins), so a scan's answer never waits for the course's row.
    NUMBERS = ("UPDATE courses SET event_seq = event_seq + ?"
               " WHERE id = (SELECT id FROM courses WHERE id = ? FOR NO KEY UPDATE SKIP LOCKED) RETURNING event_seq")
    # Every scan row of the batch, and the attendance of its check-ins (status not NULL), in one statement. The
    # attendance replaces an excuse (as scans.insert_checkin does); the holders are locked, so nothing else changed it.
    WRITE = (
        "WITH x AS (SELECT * FROM unnest(?::bigint[], ?::bigint[], ?::bigint[], ?::bigint[], ?::bigint[], ?::text[],"
        " ?::text[], ?::text[], ?::integer[], ?::bigint[], ?::text[], ?::text[], ?::text[], ?::text[], ?::bigint[],"
        " ?::integer[], ?::text[], ?::text[]) AS u(id, course_id, session_id, device_id, enrolment_id, code, method,"
        " reason, accepted, first_scan_id, nonce, scanned_at, recorded_at, note, event_seq, event_pending, status,"
        " checked_in_at)),"
        " s AS (INSERT INTO scans (id, course_id, session_id, device_id, enrolment_id, code, method, reason, accepted,"
        " first_scan_id, nonce, scanned_at, recorded_at, note, event_seq, event_pending)"
        " SELECT id, course_id, session_id, device_id, enrolment_id, code, method, reason, accepted, first_scan_id,"
        " nonce, scanned_at, recorded_at, note, event_seq, event_pending FROM x)"
        " INSERT INTO attendance (enrolment_id, session_id, status, scan_id, checked_in_at, note, updated_at)"
        " SELECT enrolment_id, session_id, status, id, checked_in_at, '', recorded_at FROM x WHERE status IS NOT NULL"
        " ON CONFLICT (enrolment_id, session_id) DO UPDATE SET status = excluded.status, scan_id = excluded.scan_id,"
        " checked_in_at = excluded.checked_in_at, note = excluded.note, updated_at = excluded.updated_at"
    )

    @staticmethod
    def rows(conn, sql: str, values: list) -> list:
        """The rows of a statement whose one parameter is a list (`= ANY(?)`)."""
        return conn.execute(sql, (values,)).fetchall()

    @classmethod
    def retried(cls, conn, device_ids: list, nonces: list) -> list:
        return conn.execute(cls.RETRIED, (device_ids, nonces)).fetchall()

    @classmethod
    def ids(cls, conn, count: int) -> list[int]:
        return sorted(row[0] for row in conn.execute(cls.IDS, (count,)).fetchall())  # unused ones leave gaps

    @classmethod
    def write(cls, conn, rows: list[tuple]) -> None:
        conn.execute(cls.WRITE, [list(column) for column in zip(*rows)])


class _SQLiteSQL:
    """The same statements on SQLite: lists as as many placeholders (`<list>`: one statement text per length, kept
    prepared by the writer, see store/sqlite.py), nothing to lock (the writer holds the whole database from BEGIN
    IMMEDIATE), ids after the largest (nobody else writes meanwhile), the course's row never held by anyone else,
    and the writes as two multi-row INSERTs (SQLite has no INSERT inside WITH)."""

    COURSES = "SELECT id, rules_version, after_end FROM courses WHERE id IN (<list>)"
    DEVICES = ("SELECT id, course_id, label, created_at, expires_at, revoked_at, last_seen_at FROM devices"
               " WHERE id IN (<list>)")
    # The [device, nonce] pairs read first (CROSS JOIN), each looked up on both columns of scans_device_nonce.
    RETRIED = ("WITH p (device_id, nonce) AS (VALUES <list>) SELECT s.device_id, s.nonce FROM p CROSS JOIN scans s"
               " WHERE s.device_id = p.device_id AND s.nonce = p.nonce")
    HOLDERS = people.HOLDER_SELECT + " WHERE b.code IN (<list>)"
    CHECKINS = ("SELECT enrolment_id, session_id, scan_id, checked_in_at FROM attendance"
                " WHERE enrolment_id IN (<list>) AND status IN ('present', 'late')")
    NUMBERS = "UPDATE courses SET event_seq = event_seq + ? WHERE id = ? RETURNING event_seq"
    SCAN_ROW = "(" + ", ".join("?" * 16) + ")"
    ATTENDANCE_ROW = "(?, ?, ?, ?, ?, '', ?)"

    @staticmethod
    def rows(conn, sql: str, values: list) -> list:
        return conn.execute(sql.replace("<list>", ", ".join("?" * len(values))), values).fetchall()

    @classmethod
    def retried(cls, conn, device_ids: list, nonces: list) -> list:
        return conn.execute(cls.RETRIED.replace("<list>", ", ".join(["(?, ?)"] * len(device_ids))),
                            [value for pair in zip(device_ids, nonces) for value in pair]).fetchall()

    @staticmethod
    def ids(conn, count: int) -> list[int]:
        last = conn.execute("SELECT coalesce(max(id), 0) FROM scans").fetchone()[0]
        return list(range(last + 1, last + 1 + count))

    @classmethod
    def write(cls, conn, rows: list[tuple]) -> None:
        conn.execute(
            "INSERT INTO scans (id, course_id, session_id, device_id, enrolment_id, code, method, reason, accepted,"
            " first_scan_id, nonce, scanned_at, recorded_at, note, event_seq, event_pending) VALUES "
            + ", ".join([cls.SCAN_ROW] * len(rows)), [value for row in rows for value in row[:16]])
        checkins = [(row[4], row[2], row[16], row[0], row[17], row[12]) for row in rows if row[16] is not None]
        if checkins:
            conn.execute(
                "INSERT INTO attendance (enrolment_id, session_id, status, scan_id, checked_in_at, note, updated_at)"
                " VALUES " + ", ".join([cls.ATTENDANCE_ROW] * len(checkins))
                + " ON CONFLICT (enrolment_id, session_id) DO UPDATE SET status = excluded.status,"
                " scan_id = excluded.scan_id, checked_in_at = excluded.checked_in_at, note = excluded.note,"
                " updated_at = excluded.updated_at", [value for row in checkins for value in row])


ALONE = None  # a scan the batch leaves to scanning.record_scan_tx


@dataclass(slots=True)
class _Decided:
    index: int  # in the batch
    scan_id: int
    holder: BadgeHolder | None
    session: CourseSession | None
    decision: rules.Decision
    scanned_at: datetime  # as the phone says (its scan row), the rule time being the server's
    at: datetime  # the rule time: when the scan reached the server
    seq: int | None = None  # a check-in's live event number (scans.PENDING: the relay numbers it)


def decide_batch(conn: sqlite3.Connection, items: list) -> list:
    """Decide and write a batch of (ScanInput, now) in the caller's transaction (either store). For each item, its
    ScanOutcome, or ALONE: nothing of it was written, it goes through record_scan_tx on its own."""
    sql = _PostgresSQL if is_postgres(conn) else _SQLiteSQL
    course_ids = sorted({scan.course_id for scan, _now in items})
    rules_of = {row[0]: courses.rules_at_version(conn, row[0], row[1], row[2])
                for row in sql.rows(conn, sql.COURSES, course_ids)}
    device_of: dict[int, Device] = {row[0]: devices.device_of(row) for row in sql.rows(
        conn, sql.DEVICES, sorted({scan.device_id for scan, _now in items}))}
    with_nonce = [scan for scan, _now in items if scan.nonce is not None]
    retried = set(map(tuple, sql.retried(conn, [s.device_id for s in with_nonce],
                                         [s.nonce for s in with_nonce]))) if with_nonce else set()
    holders = {}
    for row in sql.rows(conn, sql.HOLDERS, sorted({scan.code for scan, _now in items})):
        holders[row[0]] = BadgeHolder(code=row[0], revoked=row[1] is not None, enrolment_id=row[2], course_id=row[3],
                                      course_title=row[4], participant_id=row[5], full_name=row[6], unit=row[7],
                                      position=row[8])
    checkins: dict[tuple[int, int], Checkin | None] = {}
    if holders:
        for enrolment_id, session_id, scan_id, at in sql.rows(
                conn, sql.CHECKINS, sorted({h.enrolment_id for h in holders.values()})):
            checkins[(enrolment_id, session_id)] = Checkin(scan_id, from_db(at))

    ids = sql.ids(conn, len(items))
    results: list = [ALONE] * len(items)
    decided: list[_Decided] = []
    nonces_seen: set[tuple[int, str]] = set()
    touch: dict[int, datetime] = {}
    for index, (scan, now) in enumerate(items):
        course_rules = rules_of.get(scan.course_id)
        device = device_of.get(scan.device_id)
        if course_rules is None or device is None or scan.method in STATED_TIME_METHODS:
            continue
        sessions, after_end = course_rules
        session = next((s for s in sessions if s.id == scan.session_id), None)
        if scan.session_id is not None and session is None:
            continue  # unknown_session: said by the scan-by-scan path
        if rules.device_refusal(revoked=device.revoked_at is not None, expires_at=device.expires_at, now=now,
                                stated_at=None, sync_grace=scan.sync_grace):
            continue
        if scan.nonce is not None:
            key = (scan.device_id, scan.nonce)
            if key in retried or key in nonces_seen:
                continue  # a retry: answered from the log, after this batch has committed
            nonces_seen.add(key)
        if session is None:
            session = rules.pick_session(sessions, now)
        holder = holders.get(scan.code)
        own = holder is not None and session is not None and holder.course_id == scan.course_id
        earlier = checkins.get((holder.enrolment_id, session.id)) if own else None
        decision = rules.decide_scan(badge=holder, course_id=scan.course_id, session=session, earlier=earlier,
                                     at=now, after_end=after_end)
        if decision.supersedes is not None:
            continue
        if touch_due(device, now):
            touch[device.id] = max(now, touch.get(device.id, now))
        entry = _Decided(index, ids[index], holder, session, decision, scan.device_time or now, now)
        if decision.accepted:  # a second scan of the badge in this batch finds this one
            checkins[(holder.enrolment_id, session.id)] = Checkin(entry.scan_id, now)
        decided.append(entry)
    if not decided:
        return results

    by_course: dict[int, list[_Decided]] = {}
    for entry in decided:
        if entry.decision.accepted:
            by_course.setdefault(items[entry.index][0].course_id, []).append(entry)
    for course_id in sorted(by_course):  # the course's row locked to the commit: numbers in commit order
        entries = by_course[course_id]
        row = conn.execute(sql.NUMBERS, (len(entries), course_id)).fetchone()
        for number, entry in enumerate(entries, start=row[0] - len(entries) + 1 if row else 0):
            entry.seq = number if row else scans.PENDING
    for device_id, at in touch.items():
        devices.touch_device(conn, device_id, at)

    rows = []
    for entry in decided:
        scan, now = items[entry.index]
        first = entry.decision.first
        new = new_scan(scan, entry.holder, entry.session, entry.decision.reason, entry.decision.accepted,
                        first.scan_id if first is not None else None, entry.scanned_at, now)
        status = None
        if entry.decision.accepted:
            status = "present" if entry.decision.reason == rules.Reason.CHECKED_IN else "late"
        rows.append((entry.scan_id, new.course_id, new.session_id, new.device_id, new.enrolment_id,
                     new.code[:scans.CODE_STORED_MAX], new.method, new.reason, int(new.accepted), new.first_scan_id,
                     new.nonce, to_db(new.scanned_at), to_db(now), new.note,
                     None if entry.seq == scans.PENDING else entry.seq, 1 if entry.seq == scans.PENDING else None,
                     status, to_db(entry.at) if status else None))
    sql.write(conn, rows)

    for entry in decided:
        scan, now = items[entry.index]
        holder, decision = entry.holder, entry.decision
        event = None
        if decision.accepted:
            event = scans.checkin_event(entry.seq, scan.course_id, entry.scan_id, entry.session.id,
                                        holder.enrolment_id, holder.full_name, holder.unit, decision.reason,
                                        scan.method, entry.at, now)
        first = decision.first
        results[entry.index] = ScanOutcome(
            scan_id=entry.scan_id, reason=decision.reason, accepted=decision.accepted, replayed=False, holder=holder,
            session=entry.session, first_checked_in_at=first.at if first is not None else None,
            scanned_at=entry.scanned_at, recorded_at=now, event=event)
    return results


decide_batch.gathers = True  # SQLite's writer gathers the scans queued together into one call (store/sqlite.py)


async def decide(db, scan, now: datetime):
    """The scan's ScanOutcome once its batch has committed, or ALONE. PostgreSQL: gathered by this instance's
    DoorBatcher; SQLite: queued for the writer, which gathers the scans queued together into one decide_batch."""
    if db.dialect == "postgresql":
        return await batcher_of(db).decide(scan, now)
    return (await db.write(decide_batch, [(scan, now)]))[0]


class DoorBatcher:
    """Gathers the scans that arrive together and has them decided in one transaction (decide_batch)."""

    def __init__(self, db) -> None:
        self.db = db
        self._queue: list[tuple[object, datetime, asyncio.Future]] = []
        self._running: asyncio.Task | None = None
        # Told of each committed batch: (scans decided, check-ins left unnumbered); the app's metrics (app.py).
        self.observe: Callable[[int, int], None] | None = None

    async def decide(self, scan, now: datetime):
        """The scan's ScanOutcome once its batch has committed, or ALONE."""
        future = asyncio.get_running_loop().create_future()
        self._queue.append((scan, now, future))
        if self._running is None:
            self._running = asyncio.get_running_loop().create_task(self._drain(), name="checkin-door-batch")
        return await asyncio.shield(future)  # a request that goes away does not take its batch with it

    async def _drain(self) -> None:
        try:
            while self._queue:
                batch, self._queue = self._queue[:MAX_BATCH], self._queue[MAX_BATCH:]
                try:
                    results = await self.db.write(decide_batch, [(scan, now) for scan, now, _f in batch])
                except Exception as exc:  # nothing of the batch was written: each scan goes alone, to its own answer
                    log.warning("checkin: a batch of %d scans went scan by scan after %s: %s", len(batch),
                                type(exc).__name__, exc)
                    results = [ALONE] * len(batch)
                except BaseException:  # the server is stopping: nobody is left to answer
                    for _scan, _now, future in batch + self._queue:
                        future.cancel()
                    self._queue = []
                    raise
                for (_scan, _now, future), result in zip(batch, results):
                    if not future.done():
                        future.set_result(result)
                if self.observe is not None:
                    done = [r for r in results if r is not ALONE]
                    if done:
                        self.observe(len(done), sum(1 for r in done if r.event is not None
                                                    and r.event.id == scans.PENDING))
        finally:
            self._running = None


_batchers: "weakref.WeakKeyDictionary[object, dict[asyncio.AbstractEventLoop, DoorBatcher]]" = weakref.WeakKeyDictionary()


def batcher_of(db) -> DoorBatcher:
    """The database's batcher in this event loop (one per server; tests run several loops)."""
    loop = asyncio.get_running_loop()
    per_loop = _batchers.setdefault(db, {})
    batcher = per_loop.get(loop)
    if batcher is None:
        batcher = per_loop[loop] = DoorBatcher(db)
    return batcher
