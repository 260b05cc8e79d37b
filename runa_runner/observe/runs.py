"""The per-run metrics of a worker process, kept as plain numbers.

``runa_jobs_total`` and ``runa_job_duration_seconds`` change once per run, the hottest
path there is; prometheus-client's children take a lock per increment (two for a
histogram observation), which cost about as much as the rest of a run's bookkeeping.
Here a run adds to a few ints of its (worker, queue, job) series on the event loop's
thread, and :class:`RunCollector` turns them into the metric families when Prometheus
scrapes (from the HTTP server's thread: a scrape may miss the run settling at that
instant, never count it twice, and a histogram's count is always its buckets' total).
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterator
from typing import Any

#: Histogram buckets of a run's duration: 5 ms to 15 min.
DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
                    60.0, 120.0, 300.0, 600.0, 900.0)
OUTCOMES = ("succeeded", "failed", "retried")
_INDEX = {name: i for i, name in enumerate(OUTCOMES)}
#: an Outcome's kind -> its index in OUTCOMES (a "release" that is not a give-back is a retry)
KIND_INDEX = {"ack": 0, "fail": 1, "release": 2}


class Series:
    """One (worker, queue, job): outcome counts and the duration histogram."""

    __slots__ = ("buckets", "outcomes", "total")

    def __init__(self) -> None:
        self.outcomes = [0, 0, 0]
        #: runs per bucket, not cumulative; the last one is +Inf
        self.buckets = [0] * (len(DURATION_BUCKETS) + 1)
        self.total = 0.0

    def add(self, outcome: str, duration: float) -> None:
        self.add_index(_INDEX[outcome], duration)

    def add_index(self, index: int, duration: float) -> None:
        self.outcomes[index] += 1
        self.buckets[bisect_left(DURATION_BUCKETS, duration)] += 1
        self.total += duration


class RunCollector:
    """A prometheus-client collector over the series of one worker process."""

    def __init__(self, core: Any) -> None:
        #: prometheus_client.metrics_core
        self._core = core
        #: (worker, queue, job) -> its series; keys are manifest names only
        self.series: dict[tuple[str, str, str], Series] = {}

    def describe(self) -> Iterator[Any]:
        yield from self._families({})

    def collect(self) -> Iterator[Any]:
        yield from self._families(dict(self.series))

    def _families(self, series: dict[tuple[str, str, str], Series]) -> Iterator[Any]:
        jobs = self._core.CounterMetricFamily(
            "runa_jobs", "Runs ended, by outcome.", labels=["worker", "queue", "job", "outcome"])
        duration = self._core.HistogramMetricFamily(
            "runa_job_duration_seconds", "Run duration.", labels=["worker", "queue", "job"])
        for key, s in series.items():
            outcomes, buckets, total = list(s.outcomes), list(s.buckets), s.total
            for name, count in zip(OUTCOMES, outcomes, strict=True):
                jobs.add_metric([*key, name], count)
            cumulative, running = [], 0
            for bound, count in zip((*DURATION_BUCKETS, float("inf")), buckets, strict=True):
                running += count
                cumulative.append((_bound(bound), running))
            duration.add_metric(list(key), cumulative, total)
        yield jobs
        yield duration


def _bound(bound: float) -> str:
    return "+Inf" if bound == float("inf") else repr(bound)
