"""Live events: per-course subscribers with bounded queues, fed after each commit.

A subscriber that cannot keep up is dropped rather than slowing the door down; it reconnects with
Last-Event-ID and catches up from the event log in the database.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from .store.scans import Event

QUEUE_SIZE = 256


class Subscription:
    def __init__(self, course_id: int, size: int):
        self.course_id = course_id
        self.queue: asyncio.Queue[Event] = asyncio.Queue(maxsize=size)
        self.dropped = False
        self.live = False  # set by the stream once it has read the log and waits only on the queue

    async def get(self) -> Event:
        return await self.queue.get()


class Broadcaster:
    def __init__(self, queue_size: int = QUEUE_SIZE):
        self.queue_size = queue_size
        self._subscribers: dict[int, set[Subscription]] = defaultdict(set)

    @asynccontextmanager
    async def subscribe(self, course_id: int) -> AsyncIterator[Subscription]:
        subscription = Subscription(course_id, self.queue_size)
        self._subscribers[course_id].add(subscription)
        try:
            yield subscription
        finally:
            self._subscribers[course_id].discard(subscription)
            if not self._subscribers[course_id]:
                del self._subscribers[course_id]

    def publish(self, event: Event) -> None:
        """Hand a committed event to every subscriber of its course, never waiting."""
        for subscription in list(self._subscribers.get(event.course_id, ())):
            try:
                subscription.queue.put_nowait(event)
            except asyncio.QueueFull:
                subscription.dropped = True
                self._subscribers[event.course_id].discard(subscription)

    def count(self, course_id: int) -> int:
        """Subscribers of a course that are live: past their first read of the log, waiting on the queue."""
        return sum(1 for s in self._subscribers.get(course_id, ()) if s.live)
