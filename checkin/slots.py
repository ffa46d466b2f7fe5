"""Slots: a semaphore whose waiters give up after a while, for work that must be bounded (documents, images)."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import asynccontextmanager

import anyio

from .errors import Problem


class Slots:
    """At most `count` holders at a time. A request that finds none free waits up to `wait_seconds`, then gets
    `busy()`: a queue that nobody waits for any more would only make the next requests later."""

    def __init__(self, count: int, wait_seconds: float, busy: Callable[[], Problem]) -> None:
        self.count = count
        self._wait = wait_seconds
        self._busy = busy
        self._semaphore = anyio.Semaphore(count)

    @property
    def taken(self) -> int:
        return self.count - self._semaphore.value

    @asynccontextmanager
    async def hold(self):
        if not await self._take():
            raise self._busy()
        try:
            yield
        finally:
            self._semaphore.release()

    async def _take(self) -> bool:
        try:
            self._semaphore.acquire_nowait()
            return True
        except anyio.WouldBlock:
            pass
        with anyio.move_on_after(self._wait):
            await self._semaphore.acquire()
            return True
        return False
