"""A small keep-alive HTTP/1.1 load generator (asyncio streams), lighter than an HTTP library so
that the client takes as little of this 2-core machine as possible from the server it measures."""

from __future__ import annotations

import asyncio
import json
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class Result:
    name: str
    requests: int
    seconds: float
    latencies: list[float]
    statuses: dict[int, int]
    bodies: list[dict]

    @property
    def rps(self) -> float:
        return self.requests / self.seconds

    def pct(self, p: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))] * 1000

    @property
    def errors(self) -> int:
        return sum(n for status, n in self.statuses.items() if status != 200)

    def line(self) -> str:
        return (f"{self.name:<22} {self.requests:>6} req  {self.rps:>8.0f} req/s  p50 {self.pct(50):6.1f} ms  "
                f"p95 {self.pct(95):6.1f} ms  p99 {self.pct(99):6.1f} ms  errors {self.errors}")


async def _worker(host, port, path, headers, bodies: list[bytes], index, step, latencies, statuses, answers):
    reader, writer = await asyncio.open_connection(host, port)
    head = f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n{headers}"
    try:
        for i in range(index, len(bodies), step):
            body = bodies[i]
            started = time.perf_counter()
            writer.write(f"{head}Content-Length: {len(body)}\r\n\r\n".encode() + body)
            status_line = await reader.readline()
            length = 0
            while True:
                line = await reader.readline()
                if line in (b"\r\n", b""):
                    break
                name, _, value = line.decode("latin-1").partition(":")
                if name.lower() == "content-length":
                    length = int(value)
            payload = await reader.readexactly(length)
            latencies.append(time.perf_counter() - started)
            status = int(status_line.split()[1])
            statuses[status] = statuses.get(status, 0) + 1
            try:
                answers.append(json.loads(payload))
            except ValueError:
                answers.append({"reason": f"HTTP {status}: {payload[:80]!r}"})
    finally:
        writer.close()


def run(name: str, host: str, port: int | list[int], path: str, bodies: list[bytes], concurrency: int = 32,
        headers: dict[str, str] | None = None) -> Result:
    """Send the bodies over `concurrency` keep-alive connections. With several ports (server instances), the
    connections are spread over them in turn: body i goes to connection i % concurrency, whose port is
    ports[(i % concurrency) % len(ports)]."""
    ports = port if isinstance(port, list) else [port]
    header_text = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    answers: list[dict] = []

    async def main():
        await asyncio.gather(*[
            _worker(host, ports[i % len(ports)], path, header_text, bodies, i, concurrency, latencies, statuses, answers)
            for i in range(concurrency)
        ])


    started = time.perf_counter()
    asyncio.run(main())
    return Result(name, len(bodies), time.perf_counter() - started, latencies, statuses, answers)


def median(values: list[float]) -> float:
    return statistics.median(values)


Body = Callable[[int], bytes]
