"""What an operator watches on each instance, in the Prometheus text format (prometheus_client): scans by reason
and method, how long the door takes to answer, open event streams, the listener, the store's queue or pool, jobs.

One registry per app (not the library's global one), so that two apps in one process (tests) count apart.
Counters are bumped where the thing happens; gauges are read when /metrics is scraped.
"""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# The door's answers take a few ms; the buckets show the tail up to a second.
LATENCY_BUCKETS = (0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64)  # door/batch.py decides 64 scans at most in one transaction


class Metrics:
    def __init__(self, instance: str):
        self.registry = CollectorRegistry(auto_describe=True)
        self.instance = instance
        self.scans = Counter("checkin_scans", "Scans decided, by reason code and method.", ["reason", "method"],
                             registry=self.registry)
        self.scan_seconds = Histogram("checkin_scan_seconds", "Time to answer POST /api/v1/scans, in seconds.",
                                      buckets=LATENCY_BUCKETS, registry=self.registry)
        self.door_batch_scans = Histogram(
            "checkin_door_batch_scans", "Scans decided per transaction of the door's batches (PostgreSQL).",
            buckets=BATCH_BUCKETS, registry=self.registry)
        self.door_batch_unnumbered = Counter(
            "checkin_door_batch_unnumbered", "Check-ins a door batch left to the relay to number, because another "
            "transaction held their course's row (PostgreSQL).", registry=self.registry)
        self.info = Gauge("checkin_instance_info", "This instance (value 1).", ["instance"], registry=self.registry)
        self.info.labels(instance).set(1)
        self._gauges: dict[str, tuple[str, Callable[[], float]]] = {}
        self._scan_counters: dict[tuple[str, str], Counter] = {}
        self.registry.register(_Readings(self._gauges))

    def scanned(self, reason: str, method: str, seconds: float | None = None) -> None:
        counter = self._scan_counters.get((reason, method))
        if counter is None:  # labels() costs a lock and a lookup: once per reason and method, not per scan
            counter = self._scan_counters[(reason, method)] = self.scans.labels(reason, method)
        counter.inc()
        if seconds is not None:
            self.scan_seconds.observe(seconds)

    def door_batch(self, decided: int, unnumbered: int) -> None:
        """A door batch committed (door/batch.py): how many scans it decided, how many check-ins it left unnumbered."""
        self.door_batch_scans.observe(decided)
        if unnumbered:
            self.door_batch_unnumbered.inc(unnumbered)

    def reading(self, name: str, help_text: str, read: Callable[[], float]) -> None:
        """A gauge read when /metrics is scraped (open streams, listener state, pool use, jobs running)."""
        self._gauges[name] = (help_text, read)

    def render(self) -> bytes:
        return generate_latest(self.registry)


class _Readings:
    def __init__(self, gauges: dict[str, tuple[str, Callable[[], float]]]):
        self._gauges = gauges

    def describe(self):
        return []

    def collect(self):
        for name, (help_text, read) in list(self._gauges.items()):
            try:
                value = float(read())
            except Exception:  # a reading that fails is left out, the scrape goes on
                continue
            yield GaugeMetricFamily(name, help_text, value=value)
