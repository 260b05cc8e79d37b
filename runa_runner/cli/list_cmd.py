"""``runa-runner list [--json]``: queue and worker statistics (the seed's ``queue:list``)."""

from __future__ import annotations

import argparse
import dataclasses
from typing import Any

from ..drivers.base import Capability
from ..registry import Registry
from ..specs import QueueInfo, WorkerInfo
from . import context, output

QUEUE_HEADERS = ("QUEUE", "DRIVER", "WORKERS", "PENDING", "DELAYED", "RESERVED", "FAILED")
WORKER_HEADERS = ("WORKER", "QUEUES", "CONCURRENCY", "INSTANCES", "PROCESSED", "SUCCEEDED",
                  "FAILED", "RETRIED")


def add_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("list", parents=[common], help="queue and worker statistics",
                       description="Show pending, delayed, reserved and failed jobs per queue, "
                                   "and processed/succeeded/failed/retried per worker pool.")
    p.add_argument("--json", action="store_true", help="print JSON instead of tables")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    registry = context.load(args, import_handlers=False)
    queues, workers = context.run_with(registry, gather)
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


async def gather(registry: Registry) -> tuple[list[QueueInfo], list[WorkerInfo]]:
    """Both tables; numbers from a driver another process cannot see are unknown (None)."""
    local = {name for name, d in registry.drivers.items()
             if Capability.CROSS_PROCESS not in d.capabilities}
    queues = [q if q.driver not in local else blank_queue(q) for q in await registry.queue_info()]
    workers = [w if registry.stats_driver_name(w.name) not in local else blank_worker(w)
               for w in await registry.worker_info()]
    return queues, workers


def blank_queue(q: QueueInfo) -> QueueInfo:
    # An in-process driver seen from the CLI is always empty: say "unknown", not 0.
    return dataclasses.replace(q, pending=None, delayed=None, reserved=None, failed=None)


def blank_worker(w: WorkerInfo) -> WorkerInfo:
    return dataclasses.replace(w, instances=None, processed=None, succeeded=None,
                               failed=None, retried=None)
