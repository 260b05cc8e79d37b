"""A worker process's Prometheus metrics (``work ... --metrics HOST:PORT``).

:class:`WorkerMetrics` is a run-events observer writing to its own CollectorRegistry
(never prometheus-client's global one, so two registries in one process never clash).
Names and labels are DESIGN §11's; label values come from the manifest only: a job
name read from a driver that the manifest does not declare is counted as ``<other>``.
A run's own metrics are plain numbers read at scrape time (:mod:`.runs`); the rarer
ones (pushes, leases, drivers, schedules) are prometheus-client metrics whose labelled
children are looked up once and kept.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..drivers.base import Outcome
from ..events import Observer
from ..job import Envelope
from .prom import OTHER, client
from .runs import KIND_INDEX, RunCollector, Series


class Names:
    """The manifest's names, the only label values allowed."""

    def __init__(self, queues: Sequence[str], jobs: Sequence[str], drivers: Sequence[str],
                 schedules: Sequence[str] = ()) -> None:
        self.queues = frozenset(queues)
        self.jobs = frozenset(jobs)
        self.drivers = frozenset(drivers)
        self.schedules = frozenset(schedules)

    def queue(self, name: str) -> str:
        return name if name in self.queues else OTHER

    def job(self, name: str) -> str:
        return name if name in self.jobs else OTHER


class WorkerMetrics(Observer):
    """Counters and histograms of the runs, pushes and leases seen in this process."""

    def __init__(self, names: Names, workers: Sequence[str],
                 worker_drivers: Mapping[str, Sequence[str]] | None = None) -> None:
        prom = client()
        self.names = names
        self.registry = prom.CollectorRegistry(auto_describe=True)
        r = self.registry
        self.runs = RunCollector(prom.metrics_core)
        r.register(self.runs)
        self.in_flight = prom.Gauge("runa_jobs_in_flight", "Runs in progress.", ["worker"],
                                    registry=r)
        self.pushed = prom.Counter("runa_jobs_pushed", "Jobs pushed by this process.",
                                   ["queue", "job"], registry=r)
        self.lease_lost = prom.Counter("runa_lease_lost", "Runs whose lease was lost.",
                                       ["worker", "queue"], registry=r)
        self.driver_up = prom.Gauge("runa_driver_up", "1 while calls to the driver work.",
                                    ["driver"], registry=r)
        self.fires = prom.Counter("runa_schedule_fires", "Schedule slots, by what came of them.",
                                  ["schedule", "result"], registry=r)
        self.lateness = prom.Gauge("runa_schedule_lateness_seconds",
                                   "Seconds after its slot the last fire pushed its job.",
                                   ["schedule"], registry=r)
        self._worker_drivers = dict(worker_drivers or {})
        self._running: dict[str, set[str]] = {}
        for worker in workers:
            ids = self._running.setdefault(worker, set())
            self.in_flight.labels(worker).set_function(ids.__len__)
        for driver in sorted({d for ds in self._worker_drivers.values() for d in ds}):
            self.driver_up.labels(driver).set(1)
        #: (metric id, label values) -> its child; label values are manifest names, so
        #: this stays as small as the manifest whatever the drivers hold.
        self._children: dict[tuple[Any, ...], Any] = {}
        #: (worker, queue, job) as the envelope spells them -> its series, for names the
        #: manifest declares only (so a driver's records cannot grow it); the per-run path
        #: is then one dict lookup
        self._by_raw: dict[tuple[str, str, str], Series] = {}

    def _child(self, metric: Any, *labels: str) -> Any:
        key = (id(metric), *labels)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*labels)
        return child

    def _series(self, worker: str, queue: str, job: str) -> Series:
        key = (worker, self.names.queue(queue), self.names.job(job))
        found = self.runs.series.get(key)
        if found is None:
            found = self.runs.series[key] = Series()
        return found

    def on_pushed(self, queue: str, job: str, ids: Sequence[str]) -> None:
        self._child(self.pushed, self.names.queue(queue), self.names.job(job)).inc(len(ids))

    def on_started(self, worker: str, envelope: Envelope) -> None:
        self._running.setdefault(worker, set()).add(envelope.id)

    def on_settled(self, worker: str, envelope: Envelope, outcome: Outcome, held: bool,
                   duration: float) -> None:
        running = self._running.get(worker)
        if running is not None:
            running.discard(envelope.id)
        if not held or outcome.give_back_attempt:
            return  # a lost lease or a stop's release: not an outcome of the job
        raw = (worker, envelope.queue, envelope.job)
        series = self._by_raw.get(raw)
        if series is None:
            series = self._series(*raw)
            if raw[1] in self.names.queues and raw[2] in self.names.jobs:
                self._by_raw[raw] = series
        series.add_index(KIND_INDEX[outcome.kind], duration)

    def on_lease_lost(self, worker: str, envelope: Envelope) -> None:
        self._running.get(worker, set()).discard(envelope.id)
        self._child(self.lease_lost, worker, self.names.queue(envelope.queue)).inc()

    def on_driver_down(self, worker: str, driver: str, error: BaseException) -> None:
        for name in self._drivers_of(worker, driver):
            self._child(self.driver_up, name).set(0)

    def on_driver_up(self, worker: str, driver: str) -> None:
        for name in self._drivers_of(worker, driver):
            self._child(self.driver_up, name).set(1)

    def _drivers_of(self, worker: str, driver: str) -> Sequence[str]:
        if driver in self.names.drivers:
            return (driver,)
        return self._worker_drivers.get(worker, ())

    # ---- schedules (DESIGN §10) ---------------------------------------------------

    def _schedule(self, name: str) -> str:
        return name if name in self.names.schedules else OTHER

    def on_schedule_fired(self, schedule: str, slot: float, job_id: str,
                          lateness: float) -> None:
        name = self._schedule(schedule)
        self._child(self.fires, name, "fired").inc()
        self._child(self.lateness, name).set(lateness)

    def on_schedule_skipped(self, schedule: str, slot: float, running: str) -> None:
        self._child(self.fires, self._schedule(schedule), "skipped").inc()

    def on_schedule_missed(self, schedule: str, slot: float, count: int) -> None:
        self._child(self.fires, self._schedule(schedule), "missed").inc(count)
