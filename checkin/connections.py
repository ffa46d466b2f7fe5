"""Connections: deadlines and a budget, so that idle, half-sent or unread connections cannot stop the door.

uvicorn closes a keep-alive connection that stays idle after an answer, but it has no deadline for a fresh
connection that sends nothing, for a request header that never completes, or for an answer the client does not
read; and its `limit_concurrency` answers 503 to everyone once full, the door included. Left alone, such
connections pile up until the process runs out of file handles and cannot accept the door's scans any more.
This protocol adds, per connection:

- a header deadline: from the moment it connects, or from the end of its previous answer, a client has
  `header_timeout` seconds to complete a request header, or the connection is closed;
- a stall deadline: an answer the client stops reading (the write buffer full) for `stall_timeout` seconds is
  abandoned and the connection dropped;

and, for the whole server, a budget of open connections: past it, the connection that has waited longest
without completing a request (no header yet, or a body still missing) is closed first. Real clients send their
request in milliseconds and keep working; event streams are completed requests and are never chosen. Only when
every connection is busy with a request is the newcomer itself refused.
"""

from __future__ import annotations

import asyncio
import logging
import resource
import time

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

KEEP_ALIVE_SECONDS = 5  # an idle connection after an answer (uvicorn's own timer)
STALL_SECONDS = 30.0
RESERVED_FILES = 64  # file handles kept for the database, the document workers, logs and static files
WARN_EVERY_SECONDS = 60.0
UNLIMITED_FILES = 1 << 20  # what "unlimited" open files counts as

log = logging.getLogger("checkin.connections")


def raise_file_limit() -> int:
    """Raise this process's soft limit of open files to its hard limit; return the limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and (hard == resource.RLIM_INFINITY or soft < hard):
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
        except (ValueError, OSError):  # macOS refuses "unlimited" for open files: keep what there is
            pass
    return UNLIMITED_FILES if soft == resource.RLIM_INFINITY else soft


def connection_limit(wanted: int, file_limit: int) -> int:
    """The budget that fits in the file handles: what was asked for, less when the handles would run out first."""
    return max(1, min(wanted, file_limit - RESERVED_FILES))


class ConnectionBudget:
    """The open connections of one server, and those that have not completed a request, oldest first."""

    def __init__(self, limit: int, header_timeout: float, stall_timeout: float = STALL_SECONDS):
        self.limit = limit
        self.header_timeout = header_timeout
        self.stall_timeout = stall_timeout
        self.open = 0
        self.closed_early = 0  # connections closed to make room, since start
        self._waiting: dict[GuardedHttpProtocol, None] = {}  # no complete request header yet (ordered set)
        self._reading: dict[GuardedHttpProtocol, None] = {}  # header complete, body still coming
        self._refused = 0
        self._warned_at = float("-inf")

    def protocol(self) -> type[GuardedHttpProtocol]:
        """The protocol class to give uvicorn (`http=`): one per server, bound to this budget."""
        return type("CheckinHttpProtocol", (GuardedHttpProtocol,), {"budget": self})

    def _opened(self, connection: GuardedHttpProtocol) -> None:
        self.open += 1
        if self.open > self.limit:
            self._make_room(connection)

    def _closed(self, connection: GuardedHttpProtocol) -> None:
        if not connection.evicted:
            self.open -= 1
        self._waiting.pop(connection, None)
        self._reading.pop(connection, None)

    def _awaiting_header(self, connection: GuardedHttpProtocol) -> None:
        self._reading.pop(connection, None)
        self._waiting.pop(connection, None)
        self._waiting[connection] = None  # to the end: the newest waiter

    def _header_done(self, connection: GuardedHttpProtocol) -> None:
        self._waiting.pop(connection, None)
        self._reading[connection] = None

    def _body_done(self, connection: GuardedHttpProtocol) -> None:
        self._reading.pop(connection, None)

    def _make_room(self, newcomer: GuardedHttpProtocol) -> None:
        victim = next((c for c in self._waiting if c is not newcomer), None)
        if victim is None:
            victim = next(iter(self._reading), None)
        if victim is None:
            victim = newcomer  # every other connection is busy with a request: refuse this one
            self._refused += 1
        self._waiting.pop(victim, None)
        self._reading.pop(victim, None)
        victim.evicted = True  # no longer counted, although its socket closes only on the loop's next turn
        self.open -= 1
        self.closed_early += 1
        victim.transport.close()
        now = time.monotonic()
        if now - self._warned_at >= WARN_EVERY_SECONDS:
            log.warning(
                "connection budget of %d reached: closed %d connections that had not sent a complete request"
                " and refused %d new ones since start (see CHECKIN_MAX_CONNECTIONS)",
                self.limit, self.closed_early - self._refused, self._refused,
            )
            self._warned_at = now


class GuardedHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a header deadline, a stall deadline and a place in the budget."""

    budget: ConnectionBudget
    evicted = False

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        self._header_timer: asyncio.TimerHandle | None = None
        self._stall_timer: asyncio.TimerHandle | None = None
        super().connection_made(transport)
        self._await_header()  # also its place among the connections waiting for a header: the newest
        self.budget._opened(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel(self._header_timer)
        self._cancel(self._stall_timer)
        self._header_timer = self._stall_timer = None
        self.budget._closed(self)
        super().connection_lost(exc)

    def on_headers_complete(self) -> None:
        self._cancel(self._header_timer)
        self._header_timer = None
        self.budget._header_done(self)
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self.budget._body_done(self)
        super().on_message_complete()

    def on_response_complete(self) -> None:
        # Waiting for the next request, unless the connection is closing or a pipelined request (whose header
        # is complete already) starts now.
        next_request = self.transport.is_closing() or bool(self.pipeline)
        super().on_response_complete()
        if not next_request:
            self._await_header()

    def pause_writing(self) -> None:
        super().pause_writing()
        if self._stall_timer is None:
            self._stall_timer = self.loop.call_later(self.budget.stall_timeout, self._stalled)

    def resume_writing(self) -> None:
        super().resume_writing()
        self._cancel(self._stall_timer)
        self._stall_timer = None

    def _await_header(self) -> None:
        self._cancel(self._header_timer)
        self._header_timer = self.loop.call_later(self.budget.header_timeout, self._header_late)
        self.budget._awaiting_header(self)

    def _header_late(self) -> None:
        self._header_timer = None
        if not self.transport.is_closing():
            self.transport.close()

    def _stalled(self) -> None:
        # close() would wait for the unread answer to drain, which is what never happens: drop it.
        self._stall_timer = None
        self.transport.abort()

    @staticmethod
    def _cancel(timer: asyncio.TimerHandle | None) -> None:
        if timer is not None:
            timer.cancel()
