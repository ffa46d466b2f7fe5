"""Live events: a per-course fan-out of committed events to event-stream subscribers.

Published events are handed out in rounds per course (the first event after a quiet spell goes at once, those
that follow wait for the next round): each event is encoded once and the same bytes go to every connection, and
each subscriber is woken once per round. Rounds are spaced by the number of subscribers, so that waking them
costs about WAKES_PER_SECOND at most however fast the door scans: 50 ms apart for a few screens, 250 ms for
2,000 (ROUND_SECONDS, the longest, well within the second the live view promises). Subscribers are woken a
slice at a time, and while the door is recording a scan the next slice waits (`give_way`): waking thousands of
streams would otherwise take the event loop and the interpreter lock from the scan the usher is waiting for.

A subscriber that cannot keep up (more than its queue size of events waiting) is dropped rather than slowing
the door down; it reconnects with Last-Event-ID and catches up from the event log in the database.
"""

from __future__ import annotations

import asyncio
import json
from collections import OrderedDict
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass

from .store.scans import Event

QUEUE_SIZE = 256  # events a subscriber may have waiting before it is dropped
ROUND_SECONDS = 0.25  # the longest wait between two rounds of a course
MIN_ROUND_SECONDS = 0.05
WAKES_PER_SECOND = 8000  # subscribers woken per second by a course's rounds, at most, between the two
WAKE_SLICE = 50  # subscribers woken per turn of the event loop: the door's requests get their turn in between
GIVE_WAY_SECONDS = 0.002  # how often a round held back by a scan looks again
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
    def __init__(self, course_id: int, size: int):
        self.course_id = course_id
        self.size = size
        self.dropped = False
        self.live = False  # set by the stream once it has read the log and waits only on the broadcaster
        self._batches: list[Batch] = []
        self._held = 0  # events in _batches
        self._ping = False
        self._waiter: asyncio.Future | None = None

    async def next(self, after: int) -> tuple[bytes, int] | None:
        """What to send next: the frames of the events after `after` and the id of the last of them; b"" when a
        heartbeat is due and there is nothing else; None once the subscriber was dropped and has sent what it held.

        Events the stream already sent (from the log, before it went live) are skipped, so nothing goes twice.
        """
        while True:
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


class _Course:
    """The subscribers of one course, the events waiting for the next round, and the two timers."""

    def __init__(self, loop: asyncio.AbstractEventLoop, heartbeat: float):
        self.loop = loop
        self.subscribers: dict[Subscription, None] = {}  # an ordered set
        self.pending: list[Event] = []
        self.heartbeat = heartbeat
        self.last_round = float("-inf")
        self.round: asyncio.Handle | None = None
        self.ping: asyncio.TimerHandle | None = None

    def cancel(self) -> None:
        for handle in (self.round, self.ping):
            if handle is not None:
                handle.cancel()
        self.round = self.ping = None


class Broadcaster:
    def __init__(self, queue_size: int = QUEUE_SIZE, round_seconds: float = ROUND_SECONDS):
        self.queue_size = queue_size
        self.round_seconds = round_seconds
        self._courses: dict[int, _Course] = {}
        self._frames: OrderedDict[tuple[int, int], bytes] = OrderedDict()
        self._scans = 0  # scans being recorded now

    @contextmanager
    def give_way(self) -> Iterator[None]:
        """Hold the waking of streams back while the door records a scan (each round by round_seconds at most)."""
        self._scans += 1
        try:
            yield
        finally:
            self._scans -= 1

    @asynccontextmanager
    async def subscribe(self, course_id: int, *, heartbeat: float) -> AsyncIterator[Subscription]:
        """Receive the course's events published from now on, and a heartbeat after `heartbeat` quiet seconds."""
        course = self._courses.get(course_id)
        if course is None:
            course = self._courses[course_id] = _Course(asyncio.get_running_loop(), heartbeat)
            self._arm_heartbeat(course)
        elif heartbeat < course.heartbeat:
            course.heartbeat = heartbeat
            self._arm_heartbeat(course)
        subscription = Subscription(course_id, self.queue_size)
        course.subscribers[subscription] = None
        try:
            yield subscription
        finally:
            course.subscribers.pop(subscription, None)
            if not course.subscribers and self._courses.get(course_id) is course:
                course.cancel()
                del self._courses[course_id]

    def publish(self, event: Event) -> None:
        """Hand a committed event to every subscriber of its course, never waiting: in this round or the next."""
        course = self._courses.get(event.course_id)
        if course is None:
            return  # nobody listens; a screen that opens later reads the log
        course.pending.append(event)
        if course.round is None:
            spacing = min(self.round_seconds, max(MIN_ROUND_SECONDS, len(course.subscribers) / WAKES_PER_SECOND))
            delay = course.last_round + spacing - course.loop.time()
            if delay > 0:
                course.round = course.loop.call_later(delay, self._deliver, course)
            else:  # after a quiet spell: at once, with whatever else this turn of the loop publishes
                course.round = course.loop.call_soon(self._deliver, course)

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
        self._wake(course.loop, subscribers, 0, course.last_round + self.round_seconds)

    def _ping(self, course: _Course) -> None:
        course.ping = None
        subscribers = list(course.subscribers)
        for subscription in subscribers:
            subscription._ping = True
        self._arm_heartbeat(course)
        self._wake(course.loop, subscribers, 0, course.loop.time() + self.round_seconds)

    def _arm_heartbeat(self, course: _Course) -> None:
        if course.ping is not None:
            course.ping.cancel()
        course.ping = course.loop.call_later(course.heartbeat, self._ping, course)

    def _wake(self, loop: asyncio.AbstractEventLoop, subscribers: list[Subscription], start: int,
              deadline: float) -> None:
        if self._scans and loop.time() < deadline:
            loop.call_later(GIVE_WAY_SECONDS, self._wake, loop, subscribers, start, deadline)
            return
        end = start + WAKE_SLICE
        for subscription in subscribers[start:end]:
            subscription._wake()
        if end < len(subscribers):
            loop.call_soon(self._wake, loop, subscribers, end, deadline)
