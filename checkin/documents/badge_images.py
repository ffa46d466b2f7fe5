"""Badge images for the public link (/b/CODE/badge.png) and the organiser's preview, made so that a crowd asking
for them at once cannot take the server down or slow the door.

- A course logo is decoded and scaled once per logo version and badge size, then kept (a 4000 px logo decoded per
  request cost ~64 MB each: 40 requests took a server to 5.7 GB).
- A drawn badge is kept under everything that changes it (the card: code, name, unit, position, course title,
  date and venue; the logo version; size, resolution and language), so asking again costs nothing, and requests
  for the same badge that arrive together wait for one drawing.
- Logos are decoded and badges drawn in a small pool of worker processes (checkin.documents.workers.ProcessPool), not in the
  server: a badge is ~50 ms of the interpreter lock (the QR's masks in Python, text through FreeType), which in a
  thread would make the door's scans wait. AT_ONCE at a time; a request that finds them all busy waits
  WAIT_SECONDS, then gets 503 `images_busy` with Retry-After.

What is kept lives in this process: a cache, not shared state. Another server process draws the same image from
the same database rows, and a new logo has a new version, so no process can serve an outdated one.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from contextlib import asynccontextmanager
from dataclasses import dataclass

import anyio
from PIL import Image

from . import badges
from .badges import BadgeCard
from ..errors import Problem
from ..i18n import current_language
from .workers import ProcessPool, WorkerLimits

AT_ONCE = 2  # one per core
WAIT_SECONDS = 5
RETRY_AFTER = 10
SECONDS = 60  # a badge takes ~0.1 s; a process still busy after this is stopped
CACHE_BYTES = 48_000_000  # ~500 badges of ~90 kB; the oldest go first
MARKS = 16  # decoded logos kept (a few courses at a time, a size or two each)
log = logging.getLogger("checkin.documents.badge_images")


def images_busy() -> Problem:
    return Problem(503, "images_busy", "Many badge images are being made right now. Try again in a few seconds.",
                   retry_after=RETRY_AFTER)


@dataclass(frozen=True, slots=True)
class _Key:
    card: BadgeCard
    logo_version: str | None
    layout: str
    dpi: int
    language: str


class BadgeImages:
    """The badge images of this server process: drawn a few at a time, each drawn once, logos decoded once."""

    def __init__(self, memory_mb: int = 1024, at_once: int = AT_ONCE, wait_seconds: float = WAIT_SECONDS,
                 cache_bytes: int = CACHE_BYTES) -> None:
        self.pool = ProcessPool(WorkerLimits(memory_mb, SECONDS, at_once, wait_seconds), images_busy)
        self._cache_bytes = cache_bytes
        self._pngs: OrderedDict[_Key, bytes] = OrderedDict()
        self._png_bytes = 0
        self._marks: OrderedDict[tuple[str, int], Image.Image | None] = OrderedDict()
        self._locks: dict[Hashable, anyio.Lock] = {}
        self.logos_decoded = 0  # how many times a logo was decoded: once per version and size
        self.badges_drawn = 0

    async def badge_png(self, card: BadgeCard, logo_version: str | None,
                        read_logo: Callable[[], Awaitable[bytes | None]], *, layout: str = "a4-8",
                        dpi: int = 300) -> bytes:
        """The badge of `card` as a PNG, with the course's logo when `logo_version` is not None (`read_logo` gives
        its bytes, and is called only when that version has not been decoded yet)."""
        key = _Key(card, logo_version, layout, dpi, current_language())
        if (png := self._cached(key)) is not None:
            return png
        async with self._alone(key):
            if (png := self._cached(key)) is not None:  # drawn by the request this one waited for
                return png
            mark = None
            if logo_version is not None:
                mark = await self._mark(logo_version, badges.logo_box_px(layout, dpi), read_logo)
            png = await self.pool.run(badges.badge_png, card, dpi=dpi, layout=layout, logo=mark)
            self.badges_drawn += 1
            self._keep(key, png)
        return png

    async def _mark(self, version: str, side: int, read_logo: Callable[[], Awaitable[bytes | None]]):
        key = (version, side)
        async with self._alone(key):
            if key not in self._marks:
                data = await read_logo()
                mark = None
                if data is not None:
                    mark = await self.pool.run(_decode, data, side)
                    self.logos_decoded += 1
                self._marks[key] = mark
                while len(self._marks) > MARKS:
                    self._marks.popitem(last=False)
            self._marks.move_to_end(key)
            return self._marks[key]

    @asynccontextmanager
    async def _alone(self, key: Hashable):
        """One task at a time per key: those asking for the same image meanwhile wait, then find it made."""
        lock = self._locks.setdefault(key, anyio.Lock())
        async with lock:
            try:
                yield
            finally:
                if not lock.statistics().tasks_waiting and self._locks.get(key) is lock:
                    del self._locks[key]

    def close(self) -> None:
        """Stop the pool's processes (at server shutdown)."""
        self.pool.close()

    def _cached(self, key: _Key) -> bytes | None:
        png = self._pngs.get(key)
        if png is not None:
            self._pngs.move_to_end(key)
        return png

    def _keep(self, key: _Key, png: bytes) -> None:
        if key in self._pngs or len(png) > self._cache_bytes:
            return
        self._pngs[key] = png
        self._png_bytes += len(png)
        while self._png_bytes > self._cache_bytes:
            _, old = self._pngs.popitem(last=False)
            self._png_bytes -= len(old)


def _decode(data: bytes, side: int) -> Image.Image | None:
    try:
        return badges.logo_mark(data, side)
    except badges.LogoRefused as exc:  # stored before uploads were checked as they are now: badges go without it
        log.warning("checkin: a course logo cannot be drawn (%s); badges are drawn without it", exc)
        return None
