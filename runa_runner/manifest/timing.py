"""Timing cross-checks (warnings): settings that are each valid but fight each other.

No peer runner checks these; each one names the setting to change.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from ..drivers.base import Capability
from ..durations import format_duration as fmt
from ..limits import SHORT_LEASE
from .document import Document, KeyPath
from .problems import Problem
from .view import QUEUE_DEFAULTS, View, seconds, whole


@dataclass(frozen=True, slots=True)
class Timeout:
    """A timeout written in the manifest: on a queue, or on a job (overriding its queue's)."""

    path: KeyPath
    seconds: float
    queue: str
    owner: str  # "queue 'bulk'" or "job 'report.build'"


def timeouts(view: View) -> list[Timeout]:
    out = []
    for name, queue in view.queues.items():
        value = seconds(queue.get("timeout"))
        if value is not None:
            out.append(Timeout(("queues", name, "timeout"), value, name, f"queue '{name}'"))
    for name, job in view.jobs.items():
        value = seconds(job.get("timeout"))
        if value is not None:
            out.append(Timeout(("jobs", name, "timeout"), value, view.job_queue(name),
                               f"job '{name}'"))
    return out


def check_lease(doc: Document, view: View) -> Iterator[Problem]:
    for t in timeouts(view):
        driver = view.queue_driver(t.queue)
        caps = view.capabilities(driver)
        if caps is None or Capability.RENEW in caps:
            continue
        if Capability.CONSUMER_TIMEOUT in caps:
            continue  # no lease: the consumer holds a delivery (check_consumer_timeout)
        for worker in view.queue_workers(t.queue):
            lease = view.worker_setting(worker, "lease")
            if t.seconds > lease:
                yield doc.problem(t.path, (
                    f"timeout {fmt(t.seconds)} exceeds the lease {fmt(lease)} of worker "
                    f"'{worker}' and driver '{driver}' cannot renew leases: another worker may "
                    f"run the job again meanwhile (raise the lease)"), severity="warning")


def check_stop_timeout(doc: Document, view: View) -> Iterator[Problem]:
    for worker in view.workers:
        served = set(view.served_by(worker))
        mine = [t for t in timeouts(view) if t.queue in served]
        if not mine:
            continue
        longest = max(mine, key=lambda t: t.seconds)
        stop = view.worker_setting(worker, "stop_timeout")
        if stop < longest.seconds:
            where: KeyPath = ("workers", worker, "stop_timeout")
            key = "stop_timeout" not in view.workers[worker]
            if worker not in view.declared_workers:
                where, key = longest.path, False  # an implicit worker has no place in the file
            elif key:
                where = where[:2]
            yield doc.problem(where, (
                f"stop_timeout {fmt(stop)} of worker '{worker}' is shorter than the longest "
                f"timeout of its queues ({fmt(longest.seconds)}, {longest.owner}): a stop "
                f"cancels such jobs and releases them"), key=key, severity="warning")


def retry_schedule(retry: int, delay: float, backoff: str, max_delay: float | None) -> float:
    """Total seconds spent waiting between runs when every run fails (jitter ignored)."""
    if backoff != "exponential":
        return retry * delay
    cap = max_delay if max_delay is not None else float("inf")
    return float(sum(min(delay * 2**i, cap) for i in range(min(retry, 64))))


def check_retention(doc: Document, view: View) -> Iterator[Problem]:
    for name, queue in view.queues.items():
        retention = seconds(queue.get("retention"))
        retention = QUEUE_DEFAULTS["retention"] if retention is None else retention
        if not retention:
            continue  # 0 keeps failed jobs forever
        backoff = queue.get("retry_backoff", "fixed")
        max_delay = seconds(queue.get("retry_max_delay"))
        q_retry = whole(queue.get("retry")) or 0
        q_delay = seconds(queue.get("retry_delay"))
        q_delay = QUEUE_DEFAULTS["retry_delay"] if q_delay is None else q_delay
        owners = [(f"queue '{name}'", q_retry, q_delay)]
        for job_name, job in view.jobs.items():
            if view.job_queue(job_name) == name and ("retry" in job or "retry_delay" in job):
                retry = whole(job.get("retry"))
                delay = seconds(job.get("retry_delay"))
                owners.append((f"job '{job_name}'", q_retry if retry is None else retry,
                               q_delay if delay is None else delay))
        for owner, retry, delay in owners:
            total = retry_schedule(retry, delay, str(backoff), max_delay)
            if total > retention:
                key = "retention" not in queue
                yield doc.problem(("queues", name) if key else ("queues", name, "retention"), (
                    f"the retry schedule of {owner} ({retry} retries over {fmt(total)}) "
                    f"outlives retention {fmt(retention)}"), key=key, severity="warning")


def check_consumer_timeout(doc: Document, view: View) -> Iterator[Problem]:
    for t in timeouts(view):
        driver = view.queue_driver(t.queue)
        kind = view.type_of(driver)
        key = None if kind is None else kind.key("consumer_timeout")
        if kind is None or key is None or Capability.CONSUMER_TIMEOUT not in kind.capabilities:
            continue
        limit = seconds(view.drivers[driver].get("consumer_timeout"))
        limit = float(key.default) if limit is None else limit
        if t.seconds > limit:
            yield doc.problem(t.path, (
                f"timeout {fmt(t.seconds)} exceeds the consumer_timeout {fmt(limit)} of "
                f"{kind.name} driver '{driver}': RabbitMQ closes the channel of a job "
                f"running that long"), severity="warning")


def check_short_lease(doc: Document, view: View) -> Iterator[Problem]:
    for name, worker in view.declared_workers.items():
        lease = seconds(worker.get("lease")) if isinstance(worker, dict) else None
        if lease is not None and 0 < lease < SHORT_LEASE:
            yield doc.problem(("workers", name, "lease"), (
                f"lease {fmt(lease)} is under {fmt(SHORT_LEASE)}: it may lapse before the worker "
                f"renews it, and another worker then runs the same job again (raise the lease)"),
                severity="warning")


def timing_problems(doc: Document, view: View) -> list[Problem]:
    checks = (check_lease, check_short_lease, check_stop_timeout, check_retention,
              check_consumer_timeout)
    return [p for check in checks for p in check(doc, view)]
