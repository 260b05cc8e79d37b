"""``runa-runner list [--json]``: queue and worker statistics (the seed's ``queue:list``)."""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from ..drivers.base import Capability, Driver
from ..errors import DriverUnavailable
from ..registry import Registry
from ..specs import QueueInfo, QueueSpec, WorkerInfo, WorkerSpec
from . import context, output

T = TypeVar("T")

QUEUE_HEADERS = ("QUEUE", "DRIVER", "WORKERS", "PENDING", "DELAYED", "RESERVED", "FAILED")
WORKER_HEADERS = ("WORKER", "QUEUES", "CONCURRENCY", "INSTANCES", "PROCESSED", "SUCCEEDED",
                  "FAILED", "RETRIED")


def add_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("list", parents=[common], help="queue and worker statistics",
                       description="Show pending, delayed, reserved and failed jobs per queue, "
                                   "and processed/succeeded/failed/retried per worker pool. "
                                   "Numbers a driver cannot give (in-process or unreachable) "
                                   "show as '-' (null in JSON).")
    p.add_argument("--json", action="store_true", help="print JSON instead of tables")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    registry = context.load(args, import_handlers=False)
    queues, workers, down = context.run_with(registry, gather)
    output.warn_unreachable(down)
    if args.json:
        output.print_json({
            "queues": [dataclasses.asdict(q) for q in queues],
            "workers": [dataclasses.asdict(w) for w in workers],
        })
        return 0
    output.print_table(QUEUE_HEADERS, (dataclasses.astuple(q) for q in queues))
    print()
    output.print_table(WORKER_HEADERS, (dataclasses.astuple(w) for w in workers))
    return 0


class Probe:
    """Driver calls that survive an unreachable driver: its rows become unknown (None).

    Statistics are for looking at a deployment that may be half down, so one dead
    server must not hide what the others know (DESIGN §4: a driver that cannot
    count says so). A driver that failed once is not asked again, so an outage
    costs one connect timeout per command, not one per queue.
    """

    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        #: driver name -> why it could not be reached
        self.down: dict[str, str] = {}

    async def ask(self, driver: str, call: Callable[[Driver], Awaitable[T]]) -> T | None:
        if driver in self.down:
            return None
        try:
            return await call(await self.registry.open_driver(driver))
        except DriverUnavailable as exc:
            self.down[driver] = exc.message
            return None


async def gather(
    registry: Registry,
) -> tuple[list[QueueInfo], list[WorkerInfo], dict[str, str]]:
    """Both tables, and the drivers that could not be reached (name -> reason)."""
    # An in-process driver seen from the CLI is always empty: say "unknown", not 0.
    local = {name for name, d in registry.drivers.items()
             if Capability.CROSS_PROCESS not in d.capabilities}
    probe = Probe(registry)
    queues = [await queue_row(probe, q, local) for q in registry.queues.values()]
    workers = [await worker_row(probe, w, local) for w in registry.workers.values()]
    return queues, workers, probe.down


async def queue_row(probe: Probe, q: QueueSpec, local: set[str]) -> QueueInfo:
    c = None if q.driver in local else await probe.ask(q.driver, lambda d: d.counts(q.name))
    if c is None:
        return QueueInfo(q.name, q.driver, list(q.workers), None, None, None, None)
    return QueueInfo(q.name, q.driver, list(q.workers),
                     c.pending, c.delayed, c.reserved, c.failed)


async def worker_row(probe: Probe, w: WorkerSpec, local: set[str]) -> WorkerInfo:
    queues = [q.name for q in probe.registry.queues_of(w.name)]
    where = probe.registry.stats_driver_name(w.name)
    c = None if where in local else await probe.ask(where, lambda d: d.worker_counts(w.name))
    if c is None:
        return WorkerInfo(w.name, queues, w.concurrency, None, None, None, None, None)
    return WorkerInfo(w.name, queues, w.concurrency,
                      c.instances, c.processed, c.succeeded, c.failed, c.retried)
