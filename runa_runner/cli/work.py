"""``runa-runner work WORKER... [--all] [--burst]``: run worker pools until stopped.

Every named pool runs as a :class:`~runa_runner.worker.Unit` in one event loop.
The first SIGTERM/SIGINT stops them gracefully (exit 1 if a pool's stop_timeout
elapsed and jobs were released, else 0); a second signal stops at once (exit 130
for SIGINT). A pool whose driver cannot be reached waits for it (one line when it is
down, one when it answers) and says "started" only then; a signal meanwhile exits 0.
A pool whose side task dies unexpectedly logs the traceback, stops the other pools
gracefully, and the process exits 1.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
from typing import Any

from ..errors import StopTimedOut, WorkerFailed
from ..limits import COUNTS, short
from ..observe import logs
from ..outage import describe_target
from ..registry import Registry
from ..schedules.scheduler import Scheduler
from ..worker import Unit
from . import context
from .metrics_cmd import address
from .signals import EarlySignals, Stopper, run_loop

log = logging.getLogger("runa_runner.cli")
#: Seconds a stopping scheduler may take to finish its pass before it is cancelled.
SCHEDULER_STOP = 5.0


def add_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "work", parents=[common], help="run worker pools",
        description="Run the named worker pools (or --all) in this process until "
                    "SIGTERM/SIGINT; with --burst, until their queues hold nothing runnable.",
    )
    p.add_argument("workers", metavar="WORKER", nargs="*", help="worker pool names")
    p.add_argument("--all", action="store_true", help="run every worker pool of the manifest")
    p.add_argument("--burst", action="store_true",
                   help="exit once no job is due now and none is running")
    p.add_argument("--no-schedules", action="store_true",
                   help="do not fire the schedules of these pools' queues")
    p.add_argument("--log-level", type=str.upper, choices=logs.LEVELS, default="INFO",
                   help="least severe records shown, handlers' own included (default INFO)")
    p.add_argument("--log-format", choices=logs.FORMATS, default="text",
                   help="text lines, or one JSON object a line (default text)")
    p.add_argument("-v", "--verbose", action="store_true",
                   help="same as --log-level DEBUG: a line per job")
    p.add_argument("--concurrency", metavar="N", type=concurrency, default=None,
                   help="jobs each named pool runs at once in this process (overrides the "
                        "manifest's concurrency)")
    p.add_argument("--metrics", metavar="HOST:PORT", type=address, default=None,
                   help="serve this process's Prometheus metrics at http://HOST:PORT/metrics")
    p.set_defaults(func=run, work_parser=p)


def concurrency(text: str) -> int:
    """argparse type for --concurrency: a whole number in the documented range (limits.py)."""
    low, high = COUNTS["concurrency"]
    if text.isascii() and text.isdigit() and len(text) <= 20 and low <= int(text) <= high:
        return int(text)
    raise argparse.ArgumentTypeError(
        f"expected a whole number between {low:,} and {high:,}, got {short(text)}")


def run(args: argparse.Namespace) -> int:
    if not args.workers and not args.all:
        args.work_parser.error("give worker names or --all")
    if args.workers and args.all:
        args.work_parser.error("give worker names or --all, not both")
    # A signal while the manifest and its handlers load is a stop before the start (exit 0).
    early = EarlySignals.catch()
    try:
        logs.setup("DEBUG" if args.verbose else args.log_level, args.log_format)
        registry = context.load(args)
        names = list(registry.workers) if args.all else list(dict.fromkeys(args.workers))
        for name in names:
            registry.worker_spec(name)  # unknown name: one line with did-you-mean, exit 1
        observe(registry, names, args.metrics)
    except BaseException:
        early.restore()
        raise
    fire = [] if args.no_schedules else schedules_of(registry, names)
    return run_loop(registry, lambda stopper: serve(registry, names, args.burst, stopper, fire,
                                                    args.concurrency), early)


def schedules_of(registry: Registry, workers: list[str]) -> list[str]:
    """The schedules whose queue one of ``workers`` serves (DESIGN §10: who fires)."""
    served = {q.name for w in workers for q in registry.queues_of(w)}
    return [s.name for s in registry.schedules.values() if s.queue in served]


def setup_logging(*, verbose: bool) -> None:
    """The logging of ``work`` at INFO (DEBUG with ``verbose``), text lines on stderr."""
    logs.setup("DEBUG" if verbose else "INFO")


def observe(registry: Registry, names: list[str], metrics: tuple[str, int] | None) -> None:
    """With --metrics, serve this process's metrics (an observer of its run events)."""
    if metrics is None:
        return
    from ..observe import metrics as worker_metrics
    from ..observe import prom

    observer = worker_metrics.WorkerMetrics(
        worker_metrics.Names(list(registry.queues), list(registry.jobs), list(registry.drivers),
                             list(registry.schedules)),
        names, {n: [q.driver for q in registry.queues_of(n)] for n in names})
    registry.events.add(observer)
    server = prom.serve(metrics, observer.registry)
    log.info("serving metrics on http://%s:%d/metrics", metrics[0], server.server_port,
             extra={"event": "metrics.listening"})


async def serve(registry: Registry, names: list[str], burst: bool, stopper: Stopper,
                schedules: list[str] | None = None, concurrency: int | None = None) -> int:
    """Run the units (and a scheduler for ``schedules``) together; if one fails, stop the
    others gracefully and re-raise. ``concurrency`` overrides every pool's."""
    scheduler = Scheduler(registry, schedules) if schedules else None
    if scheduler is not None and burst:
        await scheduler.run(burst=True)  # fire what is due, then drain it with the units
        scheduler = None
    tasks = []
    for name in names:
        unit = Unit(registry, name, concurrency=concurrency)
        tasks.append(asyncio.create_task(run_unit(unit, burst, stopper)))
        stopper.units[unit] = tasks[-1]
    units = asyncio.ensure_future(asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION))
    side = None if scheduler is None else asyncio.create_task(scheduler.run())
    await asyncio.wait([units] if side is None else [units, side],
                       return_when=asyncio.FIRST_COMPLETED)
    if side is not None and side.done():  # the scheduler died: stop the units too
        await stopper.stop_all()
    _, pending = await units
    if pending:
        await stopper.stop_all()
        await asyncio.wait(pending)
    died = side is not None and scheduler is not None and await stop_scheduler(scheduler, side)
    for task in tasks:
        task.result()  # raises the first unit's error, if any
    if stopper.exit_code is not None:
        return stopper.exit_code
    return 1 if died or any(task.result() for task in tasks) else 0


async def stop_scheduler(scheduler: Scheduler, running: asyncio.Task[None]) -> bool:
    """Stop the scheduler after its pass (cancelled if a driver call hangs: each claim is
    atomic); True, with its traceback logged, if it had died (the process exits 1)."""
    scheduler.stop()
    await asyncio.wait([running], timeout=SCHEDULER_STOP)
    if not running.done():
        running.cancel()
        await asyncio.wait([running])
    exc = None if running.cancelled() else running.exception()
    if exc is not None:
        log.error("the scheduler died unexpectedly (%s: %s); the workers were stopped",
                  type(exc).__name__, exc, exc_info=exc)
    return exc is not None


async def run_unit(unit: Unit, burst: bool, stopper: Stopper) -> bool:
    """Run one unit with its start and stop lines; True if it must make the exit 1."""
    if stopper.stopping or not await unit.connect():
        log.info("worker %s stopped before it started", unit.name)
        return False
    if stopper.stopping:  # the signal came as the drivers answered
        log.info("worker %s stopped before it started", unit.name)
        return False
    log.info("worker %s started (%s)", unit.name, summary(unit), extra=_worker("started", unit))
    try:
        await unit.run(burst=burst)
    except StopTimedOut:
        log.warning("worker %s stopped %s (%s)", unit.name, stop_reason(unit, stopper),
                    counters(unit), extra=_worker("stopped", unit))
        return True
    except WorkerFailed as exc:
        # The traceback was logged when the side task died; this is the verdict.
        log.error("worker %s stopped: %s (%s)", unit.name, exc.message.split(": ", 1)[-1],
                  counters(unit), extra={**_worker("stopped", unit), "error": exc.message})
        await stopper.stop_all()  # the process exits 1: stop the other pools gracefully
        return True
    log.info("worker %s stopped (%s)", unit.name, counters(unit), extra=_worker("stopped", unit))
    return False


def _worker(what: str, unit: Unit) -> dict[str, str]:
    return {"event": f"worker.{what}", "worker": unit.name}


def stop_reason(unit: Unit, stopper: Stopper) -> str:
    """Why a stop timed out, for the stop line."""
    limit = f"after stop_timeout ({unit.spec.stop_timeout:g}s)"
    if unit.abandoned:
        return (f"{limit}: abandoned {unit.abandoned} sync handler thread(s) still running "
                "past their timeout, whose jobs were already settled")
    why = "at once" if stopper.exit_code is not None else limit
    return f"{why}: unfinished jobs were released to their queues"


def summary(unit: Unit) -> str:
    queues = ", ".join(q.name for q in unit.queues) or "none"
    drivers = dict.fromkeys(q.driver for q in unit.queues)
    where = ", ".join(f"{name} {target(unit.registry, name)}" for name in drivers)
    return (f"queues: {queues}; concurrency {unit.spec.concurrency}; "
            f"driver{'s' if len(drivers) > 1 else ''} {where or 'none'}")


def target(registry: Registry, driver_name: str) -> str:
    return describe_target(registry.drivers[driver_name])


def counters(unit: Unit) -> str:
    c = unit.counts
    return (f"processed {c.processed}: {c.succeeded} succeeded, {c.failed} failed, "
            f"{c.retried} retried")
