"""Broker-side gauges of a whole manifest (``runa-runner metrics``), read at scrape time.

A custom collector asks the read API (:class:`~runa_runner.inspection.Inspector`) for
every queue's counts, its oldest runnable job's age and every pool's live instances,
at most once a second whatever the number of scrapers. The drivers live on one event
loop in a thread of their own (the HTTP server calls ``collect`` from its threads).
A value the driver cannot give is absent, never a guessed 0; a driver that did not
answer shows as ``runa_driver_up{driver} 0`` and its series are absent.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from ..inspection import Inspector
from ..registry import Registry
from ..specs import QueueInfo, WorkerInfo
from .prom import client

#: Seconds a scrape's reading is reused.
CACHE_FOR = 1.0
#: Seconds one reading may take before the scrape gives up on it.
READ_TIMEOUT = 10.0
STATES = ("pending", "delayed", "reserved", "failed")


@dataclass(slots=True)
class Reading:
    """What one pass over the drivers found."""

    queues: list[QueueInfo] = field(default_factory=list)
    workers: list[WorkerInfo] = field(default_factory=list)
    oldest: dict[str, float | None] = field(default_factory=dict)
    #: driver name -> 1 reached, 0 down (drivers out of this process's sight are absent)
    up: dict[str, int] = field(default_factory=dict)


async def read(registry: Registry) -> Reading:
    """One pass over every queue and pool (a fresh inspector: a driver down at the last
    scrape is asked again)."""
    inspector = Inspector(registry, outside=True)
    queues = await inspector.queues()
    workers = await inspector.workers()
    oldest = await inspector.oldest_due_ages()
    used = {q.driver for q in registry.queues.values()}
    used |= {registry.stats_driver_name(w) for w in registry.workers}
    up = {d: int(d not in inspector.down) for d in sorted(used) if inspector.sees(d)}
    return Reading(queues, workers, oldest, up)


class BrokerCollector:
    """A prometheus-client collector over a registry's drivers (cached for CACHE_FOR)."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="runa-metrics",
                                        daemon=True)
        self._thread.start()
        self._lock = threading.Lock()
        self._at = -CACHE_FOR
        self._reading = Reading()

    def reading(self) -> Reading:
        with self._lock:
            if time.monotonic() - self._at >= CACHE_FOR:
                done: Future[Reading] = asyncio.run_coroutine_threadsafe(
                    read(self.registry), self.loop)
                self._reading = done.result(READ_TIMEOUT)
                self._at = time.monotonic()
            return self._reading

    def describe(self) -> list[Any]:
        return []  # registering must not read the drivers

    def collect(self) -> Iterator[Any]:
        yield from families(self.reading())

    def close(self) -> None:
        """Close the drivers on their loop, then stop it."""
        asyncio.run_coroutine_threadsafe(self.registry.close(), self.loop).result(READ_TIMEOUT)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(READ_TIMEOUT)


def families(r: Reading) -> Iterator[Any]:
    core = client().metrics_core
    jobs = core.GaugeMetricFamily("runa_queue_jobs", "Jobs per queue and state.",
                                  labels=["queue", "state"])
    for q in r.queues:
        for state in STATES:
            value = getattr(q, state)
            if value is not None:
                jobs.add_metric([q.name, state], value)
    yield jobs
    oldest = core.GaugeMetricFamily(
        "runa_queue_oldest_pending_seconds",
        "Seconds the oldest runnable job of the queue has waited (0: none).", labels=["queue"])
    for name, age in r.oldest.items():
        if age is not None:
            oldest.add_metric([name], age)
    yield oldest
    instances = core.GaugeMetricFamily("runa_worker_instances",
                                       "Live processes of the worker pool.", labels=["worker"])
    for w in r.workers:
        if w.instances is not None:
            instances.add_metric([w.name], w.instances)
    yield instances
    up = core.GaugeMetricFamily("runa_driver_up", "1 when the driver answered the last read.",
                                labels=["driver"])
    for name, value in r.up.items():
        up.add_metric([name], value)
    yield up


def collector(registry: Registry) -> tuple[Any, BrokerCollector]:
    """A CollectorRegistry holding a :class:`BrokerCollector` of ``registry``."""
    prom = client()
    collected = prom.CollectorRegistry(auto_describe=False)
    broker = BrokerCollector(registry)
    collected.register(broker)
    return collected, broker
