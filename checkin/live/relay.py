"""Live events from every instance, in each course's order: the events table is the truth, PostgreSQL's
LISTEN/NOTIFY wakes the instances, and a periodic catch-up read makes a lost notification cost seconds, not events.

Events of a course are numbered (courses.event_seq) in commit order: a transaction that numbers events holds
the course's row locked to its commit, so a reader that has seen event N has seen every event before it. An
undo, a correction, a departure or an excuse takes its number in its own transaction
(store.scans.next_event_seq). A check-in on PostgreSQL does not: it commits with no number (so that one
course's check-ins do not commit one WAL flush after the other), its handler publishes a PENDING event, and
this relay then numbers the course's waiting check-ins in one short transaction of its own
(store.scans.number_checkins), many at a time: one numbering runs per course on this instance, and a check-in
that commits meanwhile makes it go round once more. A check-in whose instance stopped between its commit and
its numbering is numbered by the sweep every instance makes at start and with each catch-up read (seconds).
The door's answer never waits for a number; the live event follows it by one numbering transaction.

On PostgreSQL a trigger on the course's number notifies `checkin_events` with "course:number" when the
numbering transaction commits. Each instance listens; for a course its own dashboards follow, it hands its
broadcaster the events in number order: what it numbered itself at once (no database read), another
instance's after reading them from the table. An event that arrives ahead of its predecessor (this instance
numbered 12 while 11, from another instance, is still on its way) waits until the gap is read from the table,
so a stream never sees 12 before 11.

With SQLite there is one process and one writer: events arrive in order, there is nothing to listen to, and
the relay just passes them on.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress

from .broadcast import Broadcaster
from ..store import scans
from ..store.scans import Event

log = logging.getLogger("checkin.live.relay")

CATCH_UP_SECONDS = 5.0  # a missed notification, or a listener that died without a word, costs at most this
RECONNECT_SECONDS = (0.2, 0.5, 1.0, 2.0, 5.0)
CHANNELS = ("checkin_events", "checkin_devices", "checkin_sessions")


class Relay:
    """Hands committed events to the local broadcaster in order; listens to the other instances on PostgreSQL."""

    def __init__(self, db, broadcaster: Broadcaster, *, listen_url: str | None = None,
                 on_device_change: Callable[[str], None] | None = None,
                 catch_up_seconds: float = CATCH_UP_SECONDS):
        self.db = db
        self.broadcaster = broadcaster
        self.listen_url = listen_url
        self.on_device_change = on_device_change
        self.catch_up_seconds = catch_up_seconds
        self._published: dict[int, int] = {}  # course -> last number handed to the broadcaster
        self._waiting: dict[int, dict[int, Event]] = {}  # course -> events that came ahead of a gap
        self._reading: dict[int, asyncio.Task] = {}  # course -> the read that fills its gap
        self._followers: dict[int, int] = {}  # course -> streams of this instance that follow it
        self._known: dict[int, int] = {}  # course -> the newest number known to be committed
        self._tasks: list[asyncio.Task] = []
        self._numbering: dict[int, asyncio.Task] = {}  # course -> the numbering of its waiting check-ins
        self._number_again: set[int] = set()  # courses with a check-in committed since their numbering began
        self.listening = listen_url is None  # SQLite: nothing to listen to, always "alive"
        self.notifications = 0

    # --- the broadcaster's face, for handlers and streams ---------------------------------------------

    def publish(self, event: Event) -> None:
        """An event this instance has just committed (a check-in with no number yet: numbered first)."""
        if event.id == scans.PENDING:
            self.number(event.course_id)
            return
        self._arrived(event.course_id, {event.id: event}, event.id)

    @asynccontextmanager
    async def subscribe(self, course_id: int, session_id: int | None = None, *, heartbeat: float) -> AsyncIterator:
        """Follow a course (for an organiser's sign-in session: its stream ends when the session does)."""
        self._followers[course_id] = self._followers.get(course_id, 0) + 1
        try:
            async with self.broadcaster.subscribe(course_id, session_id, heartbeat=heartbeat) as subscription:
                if course_id not in self._published:
                    # Followed from now on: start from what is committed (the stream reads the log up to there).
                    newest = await self.db.read(scans.get_last_event_id, course_id)
                    self._published.setdefault(course_id, newest)
                    self._flush(course_id)
                yield subscription
        finally:
            self._followers[course_id] -= 1
            if not self._followers[course_id]:
                del self._followers[course_id]
                self._forget(course_id)

    def count(self, course_id: int) -> int:
        return self.broadcaster.count(course_id)

    def close_all(self) -> None:
        self.broadcaster.close_all()

    @property
    def closing(self) -> bool:
        return self.broadcaster.closing

    def end_sessions(self, session_ids) -> None:
        """Sign-in sessions that have ended: their streams here stop (see Broadcaster.end_sessions)."""
        self.broadcaster.end_sessions(session_ids)

    def open_sessions(self) -> list[int]:
        return self.broadcaster.open_sessions()

    @property
    def sessions_checked_at(self) -> float:
        return self.broadcaster.sessions_checked_at

    @sessions_checked_at.setter
    def sessions_checked_at(self, value: float) -> None:
        self.broadcaster.sessions_checked_at = value

    def frame(self, event: Event) -> bytes:
        return self.broadcaster.frame(event)

    def give_way(self):
        return self.broadcaster.give_way()

    def streams(self) -> int:
        """Event streams open on this instance, all courses."""
        return sum(self._followers.values())

    # --- ordering ----------------------------------------------------------------------------------------

    def _arrived(self, course_id: int, events: dict[int, Event], newest: int) -> None:
        """Events (or, from a notification, only the number `newest`) committed for a course."""
        if course_id not in self._followers:
            return  # nobody here follows this course
        self._known[course_id] = max(self._known.get(course_id, 0), newest)
        waiting = self._waiting.setdefault(course_id, {})
        if course_id not in self._published:  # its first stream is reading where to start: keep them for it
            waiting.update(events)
            return
        for number, event in events.items():
            if number > self._published[course_id]:
                waiting[number] = event
        self._flush(course_id)
        if self._known[course_id] > self._published[course_id]:
            self._read_gap(course_id)

    def _flush(self, course_id: int) -> None:
        waiting = self._waiting.get(course_id)
        if not waiting:
            return
        published = self._published[course_id]
        while published + 1 in waiting:
            published += 1
            self.broadcaster.publish(waiting.pop(published))
        for number in [n for n in waiting if n <= published]:
            del waiting[number]
        self._published[course_id] = published

    def _read_gap(self, course_id: int, *, look: bool = False) -> None:
        """Read the course's events after the last one published, until the newest known one is (look: read
        once even if none is known to be missing: the periodic catch-up)."""
        if course_id in self._reading and not self._reading[course_id].done():
            return  # a read is under way; it goes on until the newest known event is published
        self._reading[course_id] = asyncio.get_running_loop().create_task(self._fill(course_id, look))

    async def _fill(self, course_id: int, look: bool) -> None:
        try:
            while course_id in self._published and (look or self._known.get(course_id, 0) > self._published[course_id]):
                look = False
                missed = await self.db.read(scans.list_events, course_id, self._published[course_id], 500)
                if course_id not in self._published:
                    return
                if missed:
                    self._known[course_id] = max(self._known.get(course_id, 0), missed[-1].id)
                    waiting = self._waiting.setdefault(course_id, {})
                    waiting.update({e.id: e for e in missed if e.id > self._published[course_id]})
                    self._flush(course_id)
                elif self._known.get(course_id, 0) > self._published[course_id]:
                    # Known but not readable yet: cannot happen for committed numbers; the catch-up tries again.
                    log.warning("checkin: live event %s of course %s not found", self._known[course_id], course_id)
                    return
        except Exception:  # the next notification or catch-up tries again
            log.exception("checkin: reading live events of course %s failed", course_id)

    # --- numbering check-ins (PostgreSQL) -------------------------------------------------------------------

    def number(self, course_id: int) -> None:
        """Number the course's committed check-ins that wait for it, soon, without waiting here. One numbering
        runs per course: asked again while it runs, it goes round once more when it is done."""
        task = self._numbering.get(course_id)
        if task is not None and not task.done():
            self._number_again.add(course_id)
            return
        self._numbering[course_id] = asyncio.get_running_loop().create_task(
            self._number(course_id), name=f"checkin-numbering-{course_id}")

    async def _number(self, course_id: int) -> None:
        try:
            while True:
                self._number_again.discard(course_id)
                events = await self.db.write(scans.number_checkins, course_id)
                if events:
                    self._arrived(course_id, {e.id: e for e in events}, events[-1].id)
                if len(events) < scans.NUMBER_AT_ONCE and course_id not in self._number_again:
                    return
        except asyncio.CancelledError:
            raise
        except Exception:  # the next check-in of the course or the sweep tries again
            log.exception("checkin: numbering the check-ins of course %s failed", course_id)
        finally:
            if self._numbering.get(course_id) is asyncio.current_task():
                del self._numbering[course_id]

    async def sweep(self) -> None:
        """Number the check-ins that any instance committed and did not number (it stopped in between)."""
        try:
            waiting = await self.db.read(scans.courses_with_waiting_checkins)
        except Exception:
            log.exception("checkin: looking for check-ins without a number failed")
            return
        for course_id in waiting:
            self.number(course_id)

    def _forget(self, course_id: int) -> None:
        self._published.pop(course_id, None)
        self._known.pop(course_id, None)
        self._waiting.pop(course_id, None)
        task = self._reading.pop(course_id, None)
        if task is not None:
            task.cancel()

    # --- the other instances (PostgreSQL) -----------------------------------------------------------------

    async def start(self, wait: float = 10.0) -> None:
        """Start listening (PostgreSQL), and wait up to `wait` seconds for the first connection, so that an instance
        does not serve a dashboard before it hears the others (/readyz tells the load balancer either way)."""
        if self.listen_url is not None:
            self._connected = asyncio.Event()
            self._tasks.append(asyncio.get_running_loop().create_task(self._listen(), name="checkin-listener"))
            self._tasks.append(asyncio.get_running_loop().create_task(self._catch_up_loop(), name="checkin-catch-up"))
            try:
                async with asyncio.timeout(wait):
                    await self._connected.wait()
            except TimeoutError:
                log.warning("checkin: the event listener is not connected yet; /readyz says so until it is")

    async def stop(self) -> None:
        # Check-ins committed here get their numbers before the store closes (else another instance's sweep would).
        numbering = [task for task in self._numbering.values() if not task.done()]
        if numbering:
            await asyncio.wait(numbering, timeout=5.0)
        tasks = [*self._tasks, *self._reading.values(), *self._numbering.values()]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()
        self._reading.clear()
        self._numbering.clear()

    async def _listen(self) -> None:
        import psycopg

        attempt = 0
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(
                    self.listen_url, autocommit=True, application_name="checkin-listener"
                ) as conn:
                    for channel in CHANNELS:
                        await conn.execute(f"LISTEN {channel}")
                    self.listening, attempt = True, 0
                    self._connected.set()
                    log.info("checkin: listening for the other instances' events")
                    self.catch_up_all()  # whatever was committed while we were not listening
                    self._tasks.append(asyncio.get_running_loop().create_task(self.sweep()))
                    async for note in conn.notifies():
                        self.notifications += 1
                        self._notified(note.channel, note.payload)
            except asyncio.CancelledError:
                self.listening = False
                raise
            except Exception as exc:
                self.listening = False
                delay = RECONNECT_SECONDS[min(attempt, len(RECONNECT_SECONDS) - 1)]
                attempt += 1
                log.warning("checkin: the event listener lost its connection (%s); again in %.1f s", exc, delay)
                await asyncio.sleep(delay)

    def _notified(self, channel: str, payload: str) -> None:
        if channel == "checkin_events":
            course, _, number = payload.partition(":")
            if course.isdigit() and number.isdigit():
                self._arrived(int(course), {}, int(number))
        elif channel == "checkin_devices" and self.on_device_change is not None:
            self.on_device_change(payload)
        elif channel == "checkin_sessions" and payload.isdigit():
            self.end_sessions([int(payload)])  # ended on another instance: its streams here stop at once

    def catch_up_all(self) -> None:
        for course_id in list(self._published):
            self._read_gap(course_id, look=True)

    async def _catch_up_loop(self) -> None:
        while True:
            await asyncio.sleep(self.catch_up_seconds)
            self.catch_up_all()
            await self.sweep()
