"""Live events: per-course subscribers with bounded queues, fed after each commit.

A subscriber that cannot keep up is dropped rather than slowing the door down; it reconnects with
Last-Event-ID and catches up from the event log in the database. A subscriber opened by an organiser's
sign-in session is ended when that session ends (logging out, a password change, a disabled account).
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from .store.scans import Event

QUEUE_SIZE = 256


class Subscription:
    def __init__(self, course_id: int, size: int, session_id: int | None = None):
        self.course_id = course_id
        self.session_id = session_id
        # None in the queue wakes a waiting stream whose session has ended.
        self.queue: asyncio.Queue[Event | None] = asyncio.Queue(maxsize=size)
        self.dropped = False
        self.ended = False  # its sign-in session ended: the stream says so and stops
        self.live = False  # set by the stream once it has read the log and waits only on the queue

    async def get(self) -> Event | None:
        return await self.queue.get()

    def end(self) -> None:
        self.ended = True
        try:
            self.queue.put_nowait(None)
        except asyncio.QueueFull:
            pass  # the stream is busy with a full queue and sees `ended` when it has sent it


class Broadcaster:
    def __init__(self, queue_size: int = QUEUE_SIZE):
        self.queue_size = queue_size
        self._subscribers: dict[int, set[Subscription]] = defaultdict(set)
        self._by_session: dict[int, set[Subscription]] = defaultdict(set)
        self.sessions_checked_at = 0.0  # monotonic time of the last look in the database (see live.py)

    @asynccontextmanager
    async def subscribe(self, course_id: int, session_id: int | None = None) -> AsyncIterator[Subscription]:
        subscription = Subscription(course_id, self.queue_size, session_id)
        self._subscribers[course_id].add(subscription)
        if session_id is not None:
            self._by_session[session_id].add(subscription)
        try:
            yield subscription
        finally:
            self._subscribers[course_id].discard(subscription)
            if not self._subscribers[course_id]:
                del self._subscribers[course_id]
            if session_id is not None:
                self._by_session[session_id].discard(subscription)
                if not self._by_session[session_id]:
                    del self._by_session[session_id]

    def publish(self, event: Event) -> None:
        """Hand a committed event to every subscriber of its course, never waiting."""
        for subscription in list(self._subscribers.get(event.course_id, ())):
            try:
                subscription.queue.put_nowait(event)
            except asyncio.QueueFull:
                subscription.dropped = True
                self._subscribers[event.course_id].discard(subscription)

    def end_sessions(self, session_ids) -> None:
        """Sign-in sessions that have ended (after the commit that ended them): their streams stop at once."""
        for session_id in session_ids:
            for subscription in list(self._by_session.get(session_id, ())):
                subscription.end()

    def open_sessions(self) -> list[int]:
        """The sign-in sessions that have a stream open here."""
        return list(self._by_session)

    def count(self, course_id: int) -> int:
        """Subscribers of a course that are live: past their first read of the log, waiting on the queue."""
        return sum(1 for s in self._subscribers.get(course_id, ()) if s.live)
