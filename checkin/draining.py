"""Leaving gracefully: on SIGTERM an instance says it is not ready, lets the load balancer move away, ends its event
streams with a hint to come back soon (to another instance), finishes the requests in flight, and exits.

    not ready (/readyz 503) --CHECKIN_DRAIN_SECONDS--> streams end --> uvicorn stops accepting, finishes, exits

A second SIGTERM, or SIGINT (Ctrl+C), skips the wait.
"""

from __future__ import annotations

import asyncio
import logging
import signal

import uvicorn

log = logging.getLogger("checkin.draining")


class DrainingServer(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, app, drain_seconds: float):
        super().__init__(config)
        self.app = app
        self.drain_seconds = drain_seconds
        self.draining = False
        self._loop: asyncio.AbstractEventLoop | None = None

    async def serve(self, sockets=None) -> None:
        self._loop = asyncio.get_running_loop()
        await super().serve(sockets)

    def handle_exit(self, sig, frame) -> None:
        services = getattr(self.app.state, "services", None)
        if sig == signal.SIGTERM and not self.draining and self.started and services and self._loop is not None:
            self.draining = True
            self._loop.call_soon_threadsafe(self._drain, services)
            return
        super().handle_exit(sig, frame)

    def _drain(self, services) -> None:
        services.draining = True
        log.warning("checkin: SIGTERM: not ready; leaving in %.0f s, after the load balancer has moved away",
                    self.drain_seconds)
        self._loop.call_later(self.drain_seconds, self._leave, services)

    def _leave(self, services) -> None:
        services.broadcaster.close_all()
        log.warning("checkin: event streams ended; finishing the requests in flight")
        super().handle_exit(signal.SIGTERM, None)
