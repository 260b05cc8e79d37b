"""Reference checks the schema cannot express: names that must exist, and capabilities.

Each checker is a small function ``(doc, view) -> problems``; they tolerate a
body the schema rejected, so both passes report in one run.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from .. import specs
from ..drivers.base import Capability
from .document import Document
from .problems import Problem, did_you_mean
from .schedules import check_schedule_refs, check_schedule_times
from .urls import check_driver_urls
from .view import View, seconds, whole

Checker = Callable[[Document, View], Iterator[Problem]]


def check_driver_types(doc: Document, view: View) -> Iterator[Problem]:
    from ..drivers import driver_types

    known = driver_types()
    for name, driver in view.drivers.items():
        kind = driver.get("type")
        if isinstance(kind, str) and kind not in known:
            yield doc.problem(("drivers", name, "type"),
                              f"unknown driver type '{kind}'" + did_you_mean(kind, known))


def check_queue_refs(doc: Document, view: View) -> Iterator[Problem]:
    default = doc.body.get("default_driver")
    if isinstance(default, str) and default not in view.drivers:
        yield doc.problem(("default_driver",),
                          f"unknown driver '{default}'" + did_you_mean(default, view.drivers))
    for name, queue in view.declared_queues.items():
        driver = queue.get("driver") if isinstance(queue, dict) else None
        if isinstance(driver, str) and driver not in view.drivers:
            yield doc.problem(("queues", name, "driver"),
                              f"unknown driver '{driver}'" + did_you_mean(driver, view.drivers))
        workers = queue.get("workers") if isinstance(queue, dict) else None
        if isinstance(workers, list) and not workers:
            yield doc.problem(("queues", name, "workers"),
                              f"no worker serves queue '{name}' (list at least one worker)")
        for i, worker in enumerate(workers if isinstance(workers, list) else []):
            if isinstance(worker, str) and worker not in view.workers:
                yield doc.problem(("queues", name, "workers", i), f"unknown worker '{worker}'"
                                  + did_you_mean(worker, view.workers))
        if isinstance(queue, dict) and "workers" not in queue and (
            specs.DEFAULT_WORKER not in view.workers
        ):
            yield doc.problem(("queues", name), f"queue '{name}' has no 'workers' and no worker "
                              f"named '{specs.DEFAULT_WORKER}' exists", key=True)
    if not view.declared_queues and specs.DEFAULT_WORKER not in view.workers:
        yield doc.problem(("workers",), "no queues are declared, so queue 'default' exists and "
                          "needs a worker 'default'; declare queues or a worker 'default'",
                          key=True)


def check_job_refs(doc: Document, view: View) -> Iterator[Problem]:
    for name, job in view.jobs.items():
        queue = view.job_queue(name)
        if queue in view.queues:
            continue
        if "queue" in job:
            yield doc.problem(("jobs", name, "queue"),
                              f"unknown queue '{queue}'" + did_you_mean(queue, view.queues))
        else:
            yield doc.problem(("jobs", name), f"job '{name}' has no 'queue' and no queue named "
                              f"'{queue}' exists", key=True)


def check_idle_workers(doc: Document, view: View) -> Iterator[Problem]:
    for name in view.declared_workers:
        if not view.served_by(name):
            yield doc.problem(("workers", name), f"worker '{name}' serves no queue", key=True,
                              severity="warning")


def check_capabilities(doc: Document, view: View) -> Iterator[Problem]:
    for name, job in view.jobs.items():
        driver = view.queue_driver(view.job_queue(name))
        caps = view.capabilities(driver)
        if caps is None:
            continue
        for key in ("unique_until", "unique_for"):
            if key in job and Capability.UNIQUE not in caps:
                yield doc.problem(("jobs", name, key), _lacks(view, driver, "unique jobs",
                                                              Capability.UNIQUE))
        retry = whole(job.get("retry"))
        delay = seconds(job.get("retry_delay"))
        if retry and delay and Capability.DELAY not in caps:
            yield doc.problem(("jobs", name, "retry_delay"),
                              _lacks(view, driver, "delayed retries", Capability.DELAY))
    for name, queue in view.declared_queues.items():
        driver = view.queue_driver(name)
        caps = view.capabilities(driver)
        retry = whole(mapping_get(queue, "retry"))
        delay = seconds(mapping_get(queue, "retry_delay", 1.0))
        if caps is not None and retry and delay and Capability.DELAY not in caps:
            yield doc.problem(("queues", name, "retry"),
                              _lacks(view, driver, "delayed retries", Capability.DELAY))
        if caps is not None and Capability.FLOW_CONTROL not in caps:
            for key in ("max_running", "rate"):
                if mapping_get(queue, key) is not None:
                    yield doc.problem(("queues", name, key), _lacks(
                        view, driver, f"{key} (flow control)", Capability.FLOW_CONTROL))
    yield from check_results(doc, view)


def check_results(doc: Document, view: View) -> Iterator[Problem]:
    """A result_ttl > 0 on a queue, or a job, whose driver cannot keep results."""
    owners = [(("queues", name, "result_ttl"), name) for name, q in view.declared_queues.items()
              if isinstance(q, dict) and seconds(q.get("result_ttl"))]
    owners += [(("jobs", name, "result_ttl"), view.job_queue(name))
               for name, job in view.jobs.items() if seconds(job.get("result_ttl"))]
    for where, queue in owners:
        driver = view.queue_driver(queue)
        caps = view.capabilities(driver)
        if caps is not None and Capability.RESULTS not in caps:
            yield doc.problem(where, _lacks(view, driver, "results (result_ttl)",
                                            Capability.RESULTS))


def mapping_get(value: object, key: str, default: object = None) -> object:
    return value.get(key, default) if isinstance(value, dict) else default


def _lacks(view: View, driver: str, what: str, cap: Capability) -> str:
    return (f"driver '{driver}' (type {view.driver_type(driver)}) cannot do {what} "
            f"(it lacks the '{cap.value}' capability)")


#: Every reference checker, in report order.
CHECKERS: tuple[Checker, ...] = (
    check_driver_types, check_driver_urls, check_queue_refs, check_job_refs, check_idle_workers,
    check_capabilities, check_schedule_refs, check_schedule_times,
)


def reference_problems(doc: Document, view: View) -> list[Problem]:
    return [p for check in CHECKERS for p in check(doc, view)]
