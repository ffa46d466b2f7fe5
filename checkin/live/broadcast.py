"""Live events: a per-course fan-out of committed events to event-stream subscribers.

Published events are handed out in rounds per course (the first event after a quiet spell goes at once, those
that follow wait for the next round): each event is encoded once and the same bytes go to every connection, and
each subscriber is woken once per round. Rounds are spaced by the number of subscribers, so that waking them
costs about WAKES_PER_SECOND at most however fast the door scans: 50 ms apart for a few screens, 250 ms for
2,000 (ROUND_SECONDS, the longest, well within the second the live view promises). Subscribers are woken a
slice at a time, back to back, but while the door is recording a scan only one slice per GIVE_WAY_SECONDS
(`give_way`): waking thousands of streams at once would take the event loop and the interpreter lock from the
scan the usher is waiting for.

A subscriber that cannot keep up (more than its queue size of events waiting) is dropped rather than slowing
the door down; it reconnects with Last-Event-ID and catches up from the event log in the database. A subscriber
opened by an organiser's sign-in session is ended when that session ends (logging out, a password change, a
disabled account): it is sent nothing more.
"""

from __future__ import annotations

import asyncio
import json
from collections import OrderedDict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from ..store.scans import Event

QUEUE_SIZE = 256  # events a subscriber may have waiting before it is dropped
ROUND_SECONDS = 0.25  # the longest wait between two rounds of a course
MIN_ROUND_SECONDS = 0.05
WAKES_PER_SECOND = 8000  # subscribers woken per second by a course's rounds, at most, between the two
WAKE_SLICE = 20  # subscribers woken per turn of the event loop: the door's requests get their turn in between
GIVE_WAY_SECONDS = 0.002  # one slice this often while a scan is being recorded: a quarter of the loop at most
FRAME_CACHE = 1024  # encoded events kept for replays (many screens reconnect after the same Wi-Fi drop)


def encode_event(event: Event) -> bytes:
    """An event as a server-sent-events frame: its id, then its kind and payload as JSON."""
    data = json.dumps({"kind": event.kind, **event.payload}, ensure_ascii=False, separators=(",", ":"))
    return f"id: {event.id}\ndata: {data}\n\n".encode()


@dataclass(frozen=True, slots=True)
class Batch:
    """The events of one round, oldest first, as frames; `data` is all of them joined, shared by every subscriber."""

    ids: tuple[int, ...]
    frames: tuple[bytes, ...]
    data: bytes

    def head(self, n: int) -> Batch:
        return Batch(self.ids[:n], self.frames[:n], b"".join(self.frames[:n]))


class Subscription:
    def __init__(self, course_id: int, size: int, session_id: int | None = None):
        self.course_id = course_id
        self.session_id = session_id
        self.size = size
        self.dropped = False
        self.ended = False  # its sign-in session ended: the stream says so and stops
        self.live = False  # set by the stream once it has read the log and waits only on the broadcaster
        self._batches: list[Batch] = []
        self._held = 0  # events in _batches
        self._ping = False
        self._waiter: asyncio.Future | None = None

    async def next(self, after: int) -> tuple[bytes, int] | None:
        """What to send next: the frames of the events after `after` and the id of the last of them; b"" when a
        heartbeat is due and there is nothing else; None once the subscriber was dropped and has sent what it held.

        Events the stream already sent (from the log, before it went live) are skipped, so nothing goes twice.
        A subscriber whose sign-in session ended gets None at once: nothing more, not even what it held.
        """
        while True:
            if self.ended:
                return None
            if self._batches:
                batches, self._batches, self._held, self._ping = self._batches, [], 0, False
                parts = []
                for batch in batches:
                    if batch.ids[0] > after:  # the usual case: the whole round, bytes shared with everyone
                        parts.append(batch.data)
                        after = batch.ids[-1]
                        continue
                    for event_id, frame in zip(batch.ids, batch.frames):
                        if event_id > after:
                            parts.append(frame)
                            after = event_id
                if parts:
                    return b"".join(parts), after
            if self.dropped:
                return None
            if self._ping:
                self._ping = False
                return b"", after
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None

    def _offer(self, batch: Batch) -> bool:
        """Take a round's events; False when they do not all fit, and the subscriber is dropped."""
        room = self.size - self._held
        if len(batch.ids) > room:
            self.dropped = True
            batch = batch.head(room)  # what fits is still sent, then the stream ends and catches up from the log
        if batch.ids:
            self._batches.append(batch)
            self._held += len(batch.ids)
        return not self.dropped

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    def end(self) -> None:
        self.ended = True
        self._batches, self._held = [], 0
        self._wake()


class _Course:
    """The subscribers of one course, the events waiting for the next round, the round being woken, the timers."""

    def __init__(self, loop: asyncio.AbstractEventLoop, heartbeat: float):
        self.loop = loop
        self.subscribers: dict[Subscription, None] = {}  # an ordered set
        self.pending: list[Event] = []
        self.heartbeat = heartbeat
        self.last_round = float("-inf")
        self.round: asyncio.Handle | None = None  # the next round, when one is due
        self.waking: list[Subscription] | None = None  # the subscribers of the round being woken, if any
        self.ping: asyncio.TimerHandle | None = None
        self.closed = False

    def close(self) -> None:
        for handle in (self.round, self.ping):
            if handle is not None:
                handle.cancel()
        self.round = self.ping = None
        self.closed = True


class Broadcaster:
    def __init__(self, queue_size: int = QUEUE_SIZE, round_seconds: float = ROUND_SECONDS,
                 give_way_seconds: float = GIVE_WAY_SECONDS):
        self.queue_size = queue_size
        self.round_seconds = round_seconds
        self.give_way_seconds = give_way_seconds
        self._courses: dict[int, _Course] = {}
        self._frames: OrderedDict[tuple[int, int], bytes] = OrderedDict()
        self._scans = 0  # scans being recorded now
        self._by_session: dict[int, set[Subscription]] = {}
        self.closing = False  # set by close_all: no stream is kept open any more
        self.sessions_checked_at = 0.0  # monotonic time of the last look in the database (see live.py)
        self._give_way = _GiveWay(self)

    def give_way(self) -> "_GiveWay":
        """Slow the waking of streams down to a slice per give_way_seconds while the door records a scan
        (`with broadcaster.give_way(): ...`; nests)."""
        return self._give_way

    @asynccontextmanager
    async def subscribe(self, course_id: int, session_id: int | None = None, *,
                        heartbeat: float) -> AsyncIterator[Subscription]:
        """Receive the course's events published from now on, and a heartbeat after `heartbeat` quiet seconds;
        until the sign-in session `session_id` (if any) ends."""
        course = self._courses.get(course_id)
        if course is None:
            course = self._courses[course_id] = _Course(asyncio.get_running_loop(), heartbeat)
            self._arm_heartbeat(course)
        elif heartbeat < course.heartbeat:
            course.heartbeat = heartbeat
            self._arm_heartbeat(course)
        subscription = Subscription(course_id, self.queue_size, session_id)
        subscription.dropped = self.closing  # a server going away keeps no new stream either
        course.subscribers[subscription] = None
        if session_id is not None:
            self._by_session.setdefault(session_id, set()).add(subscription)
        try:
            yield subscription
        finally:
            if session_id is not None:
                held = self._by_session.get(session_id, set())
                held.discard(subscription)
                if not held:
                    self._by_session.pop(session_id, None)
            course.subscribers.pop(subscription, None)
            if not course.subscribers and self._courses.get(course_id) is course:
                course.close()
                del self._courses[course_id]

    def publish(self, event: Event) -> None:
        """Hand a committed event to every subscriber of its course, never waiting: in this round or the next."""
        course = self._courses.get(event.course_id)
        if course is None:
            return  # nobody listens; a screen that opens later reads the log
        course.pending.append(event)
        self._schedule(course)

    def close_all(self) -> None:
        """This server is going away (draining on SIGTERM): every stream sends what it holds, then ends, and the
        browser reconnects, through the load balancer, to another instance with its Last-Event-ID."""
        self.closing = True
        for course in self._courses.values():
            for subscription in course.subscribers:
                subscription.dropped = True
                subscription._wake()

    def end_sessions(self, session_ids) -> None:
        """Sign-in sessions that have ended (after the commit that ended them): their streams stop at once."""
        for session_id in session_ids:
            for subscription in list(self._by_session.get(session_id, ())):
                subscription.end()

    def open_sessions(self) -> list[int]:
        """The sign-in sessions that have a stream open here."""
        return list(self._by_session)

    def count(self, course_id: int) -> int:
        """Subscribers of a course that are live: past their first read of the log, waiting on the broadcaster."""
        course = self._courses.get(course_id)
        return sum(1 for s in course.subscribers if s.live) if course else 0

    def frame(self, event: Event) -> bytes:
        """The event's frame, encoded once for every connection and every replay that needs it."""
        key = (event.course_id, event.id)
        frame = self._frames.get(key)
        if frame is None:
            frame = self._frames[key] = encode_event(event)
            if len(self._frames) > FRAME_CACHE:
                self._frames.popitem(last=False)
        return frame

    def _schedule(self, course: _Course) -> None:
        """Set the next round, unless one is set or still being woken (its end sets the next one)."""
        if course.round is not None or course.waking is not None or course.closed:
            return
        spacing = min(self.round_seconds, max(MIN_ROUND_SECONDS, len(course.subscribers) / WAKES_PER_SECOND))
        delay = course.last_round + spacing - course.loop.time()
        if delay > 0:
            course.round = course.loop.call_later(delay, self._deliver, course)
        else:  # after a quiet spell: at once, with whatever else this turn of the loop publishes
            course.round = course.loop.call_soon(self._deliver, course)

    def _deliver(self, course: _Course) -> None:
        """One round: every subscriber takes the waiting events at once (so none sees them out of order), then
        subscribers are woken a slice at a time."""
        course.round = None
        course.last_round = course.loop.time()
        events = sorted(course.pending, key=lambda e: e.id)
        course.pending = []
        frames = tuple(self.frame(e) for e in events)
        batch = Batch(tuple(e.id for e in events), frames, b"".join(frames))
        subscribers = list(course.subscribers)
        for subscription in subscribers:
            if not subscription._offer(batch):
                del course.subscribers[subscription]
        self._arm_heartbeat(course)
        self._start_waking(course, subscribers)

    def _ping(self, course: _Course) -> None:
        course.ping = None
        self._arm_heartbeat(course)
        if course.waking is not None:  # a round is being woken: that is news enough
            return
        subscribers = list(course.subscribers)
        for subscription in subscribers:
            subscription._ping = True
        self._start_waking(course, subscribers)

    def _arm_heartbeat(self, course: _Course) -> None:
        if course.ping is not None:
            course.ping.cancel()
        course.ping = course.loop.call_later(course.heartbeat, self._ping, course)

    def _start_waking(self, course: _Course, subscribers: list[Subscription]) -> None:
        course.waking = subscribers
        self._wake(course, subscribers, 0)

    def _wake(self, course: _Course, subscribers: list[Subscription], start: int) -> None:
        if course.closed:
            return
        end = start + WAKE_SLICE
        for subscription in subscribers[start:end]:
            subscription._wake()
        if end < len(subscribers):
            if self._scans:  # the door is busy: the next slice waits a little (a round still ends, however busy)
                course.loop.call_later(self.give_way_seconds, self._wake, course, subscribers, end)
            else:
                course.loop.call_soon(self._wake, course, subscribers, end)
        elif course.waking is subscribers:  # the last slice: the next round may begin
            course.waking = None
            if course.pending:
                self._schedule(course)


class _GiveWay:
    """Broadcaster.give_way's context: a counter of scans under way (a class: the door enters it on every scan,
    and a generator-based context manager costs several times more)."""

    __slots__ = ("broadcaster",)

    def __init__(self, broadcaster: Broadcaster):
        self.broadcaster = broadcaster

    def __enter__(self) -> None:
        self.broadcaster._scans += 1

    def __exit__(self, *exc) -> None:
        self.broadcaster._scans -= 1
