"""``runa-runner schedule list|next|run``: look at schedules and fire them (DESIGN §10)."""

from __future__ import annotations

import argparse
import asyncio
import signal
from datetime import datetime
from typing import Any

from ..errors import ConfigError
from ..registry import Registry
from ..schedules.calendar import time_zone
from ..schedules.info import schedule_info
from ..schedules.scheduler import Scheduler
from ..schedules.spec import ScheduleSpec
from . import context, output

HEADERS = ("SCHEDULE", "JOB", "QUEUE", "WHEN", "TIMEZONE", "NEXT", "LAST")
#: Most slots ``schedule next --count`` lists.
MAX_COUNT = 10_000


def add_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("schedule", parents=[common], help="list, preview and fire schedules",
                       description="Show schedules, preview their slots, or fire them "
                                   "without a worker.")
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    lst = actions.add_parser("list", parents=[common], help="every schedule, next and last fire")
    lst.add_argument("--json", action="store_true", help="print JSON instead of a table")
    lst.set_defaults(func=run_list)
    nxt = actions.add_parser("next", parents=[common], help="the next slots of one schedule",
                             description="Print the next slots of NAME, one ISO-8601 time a "
                                         "line in the schedule's time zone with its offset.")
    nxt.add_argument("name", metavar="NAME")
    nxt.add_argument("--count", type=count, default=5, help="how many slots (default 5)")
    nxt.add_argument("--from", dest="start", metavar="ISO8601", type=iso_time,
                     help="list slots after this time (default now; without an offset it "
                          "is read in the schedule's time zone)")
    nxt.add_argument("--json", action="store_true", help="print a JSON list")
    nxt.set_defaults(func=run_next)
    run = actions.add_parser("run", parents=[common], help="fire schedules in this process",
                             description="Fire the named schedules (default all) as their "
                                         "slots come due, until SIGTERM/SIGINT; with --burst, "
                                         "fire what is due now and exit.")
    run.add_argument("names", metavar="NAME", nargs="*", help="schedule names (default all)")
    run.add_argument("--burst", action="store_true", help="fire what is due now, then exit")
    run.add_argument("-v", "--verbose", action="store_true", help="log more (DEBUG)")
    run.set_defaults(func=run_scheduler)


def count(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if not 1 <= n <= MAX_COUNT:
        raise argparse.ArgumentTypeError(f"expected 1 to {MAX_COUNT}, got {n}")
    return n


def iso_time(text: str) -> datetime:
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected an ISO 8601 time like 2027-03-28T00:00:00+01:00, got {text!r}") from None


# ---- list ---------------------------------------------------------------------------

def run_list(args: argparse.Namespace) -> int:
    registry = context.load(args, import_handlers=False)
    down: dict[str, str] = {}
    rows = context.run_with(registry, lambda r: schedule_info(
        r.schedules, r.queues, r.drivers, r.open_driver, down=down))
    output.warn_unreachable(down)
    if args.json:
        output.print_json([row.to_dict() for row in rows])
        return 0
    output.print_table(HEADERS, ((r.name, r.job, r.queue, r.when, r.timezone, r.next,
                                  r.last_slot) for r in rows))
    return 0


# ---- next ---------------------------------------------------------------------------

def run_next(args: argparse.Namespace) -> int:
    registry = context.load(args, import_handlers=False)
    spec = registry.schedule_spec(args.name)  # unknown: one line with did-you-mean, exit 1
    times = next_slots(spec, args.start, args.count)
    if args.json:
        output.print_json(times)
    else:
        for t in times:
            print(t)
    return 0


def next_slots(spec: ScheduleSpec, start: datetime | None, n: int) -> list[str]:
    """The ``n`` slots after ``start`` (naive: in the schedule's zone; None: now)."""
    if start is None:
        t = datetime.now().timestamp()
    elif start.tzinfo is None:
        t = start.replace(tzinfo=time_zone(spec.timezone)).timestamp()
    else:
        t = start.timestamp()
    out: list[str] = []
    while len(out) < n:
        slot = spec.calendar.next_after(t)
        if slot is None:
            break
        out.append(spec.local(slot))
        t = slot
    return out


# ---- run ----------------------------------------------------------------------------

def run_scheduler(args: argparse.Namespace) -> int:
    from .work import setup_logging

    setup_logging(verbose=args.verbose)
    registry = context.load(args)
    names = list(dict.fromkeys(args.names)) or list(registry.schedules)
    if not names:
        raise ConfigError("no schedules are declared in the manifest")
    for name in names:
        queue = registry.schedule_spec(name).queue
        context.require_cross_process(
            registry, queue, "; a job fired from the CLI would vanish with this process. "
            f"Use a sqlite or redis driver for queue '{queue}'")
    return asyncio.run(serve(registry, Scheduler(registry, names), args.burst))


async def serve(registry: Registry, scheduler: Scheduler, burst: bool) -> int:
    """Run until a signal (or, with ``burst``, one pass); close the drivers."""
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, scheduler.stop)
    try:
        await scheduler.run(burst=burst)
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
        await registry.close()
    return 0
