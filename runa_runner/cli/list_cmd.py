"""``runa-runner list [--json]``: queue and worker statistics (the seed's ``queue:list``)."""

from __future__ import annotations

import argparse
import dataclasses
import json
from typing import Any

from ..inspection import Inspector
from ..registry import Registry
from ..specs import QueueInfo, WorkerInfo
from . import context, output

#: The last column has no header: it marks a paused queue PAUSED and is blank otherwise,
#: so the table of queues that run reads exactly as before (DESIGN §6).
QUEUE_HEADERS = ("QUEUE", "DRIVER", "WORKERS", "PENDING", "DELAYED", "RESERVED", "FAILED", "")
PAUSED_MARK = "PAUSED"
WORKER_HEADERS = ("WORKER", "QUEUES", "CONCURRENCY", "INSTANCES", "PROCESSED", "SUCCEEDED",
                  "FAILED", "RETRIED")


def add_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("list", parents=[common], help="queue and worker statistics",
                       description="Show pending, delayed, reserved and failed jobs per queue, "
                                   "and processed/succeeded/failed/retried per worker pool. "
                                   "Numbers a driver cannot give (in-process or unreachable) "
                                   "show as '-' (null in JSON).")
    p.add_argument("--json", action="store_true", help="print JSON instead of tables")
    p.add_argument("--watch", metavar="SECONDS", nargs="?", type=seconds, const=2.0,
                   default=None, help="redraw the tables every SECONDS (default 2) until "
                                      "Ctrl-C; not on a terminal, print a new snapshot each time")
    p.set_defaults(func=run)


def seconds(text: str) -> float:
    """argparse type of --watch: a positive number of seconds (or a duration like 500ms)."""
    value = context.duration(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be more than 0 seconds, got {text!r}")
    return value


def run(args: argparse.Namespace) -> int:
    registry = context.load(args, import_handlers=False)
    if args.watch is not None:
        from . import watch

        return watch.run(registry, args.watch, lambda r: snapshot(r, args.json),
                         live=not args.json)
    queues, workers, down = context.run_with(registry, gather)
    output.warn_unreachable(down)
    if args.json:
        output.print_json(as_dict(queues, workers))
        return 0
    print(tables(queues, workers))
    return 0


async def snapshot(registry: Registry, as_json: bool) -> tuple[str, dict[str, str]]:
    """What ``list`` (``--json``: on one line) prints now, and the unreachable drivers."""
    queues, workers, down = await gather(registry)
    if as_json:
        return json.dumps(as_dict(queues, workers), ensure_ascii=False), down
    return tables(queues, workers), down


def as_dict(queues: list[QueueInfo], workers: list[WorkerInfo]) -> dict[str, Any]:
    """``list --json``'s object."""
    return {"queues": [dataclasses.asdict(q) for q in queues],
            "workers": [dataclasses.asdict(w) for w in workers]}


def tables(queues: list[QueueInfo], workers: list[WorkerInfo]) -> str:
    """Both tables of ``list``, a blank line between them."""
    return (output.table(QUEUE_HEADERS, (queue_row(q) for q in queues)) + "\n\n"
            + output.table(WORKER_HEADERS, (dataclasses.astuple(w) for w in workers)))


def queue_row(q: QueueInfo) -> tuple[Any, ...]:
    """A queue's cells, then PAUSED when it is paused (blank otherwise)."""
    mark = PAUSED_MARK if q.paused else ""
    return (q.name, q.driver, q.workers, q.pending, q.delayed, q.reserved, q.failed, mark)


async def gather(
    registry: Registry,
) -> tuple[list[QueueInfo], list[WorkerInfo], dict[str, str]]:
    """Both tables, and the drivers that could not be reached (name -> reason)."""
    # An in-process driver seen from the CLI is always empty: say "unknown", not 0.
    inspector = Inspector(registry, outside=True)
    return await inspector.queues(), await inspector.workers(), inspector.down
