"""The cost of ``--metrics`` on a drain, without process or server noise: one in-process
unit (memory driver) drains no-op jobs with and without the worker-metrics observer,
alternately, so both see the same machine.

    python benchmarks/observe_bench.py [--jobs 10000] [--concurrency 50] [--repeats 7]

Prints drain jobs/s and CPU time per job (median, min-max) of each, and how much slower
the metered drain is.
``run.py --metrics-overhead`` measures the same on real ``work --burst`` processes.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from typing import Any

import runa_runner as rr
from runa_runner.observe.metrics import Names, WorkerMetrics


async def noop(job: rr.Job[Any]) -> None:
    return None


async def drain(jobs: int, concurrency: int, metered: bool) -> tuple[float, float]:
    """Drain jobs/s by the wall clock, and CPU microseconds per job (steadier on a busy
    machine: time spent waiting for a core is not counted)."""
    registry = rr.Registry()
    registry.queue("q", workers=["w"])
    registry.worker("w", concurrency=concurrency)
    registry.job("noop", noop, queue="q")
    registry.freeze()
    if metered:
        registry.events.add(WorkerMetrics(Names(["q"], ["noop"], ["memory"]), ["w"],
                                          {"w": ["memory"]}))
    await registry.push_many("noop", [{"n": i} for i in range(jobs)])
    started, cpu = time.perf_counter(), time.process_time()
    await rr.Unit(registry, "w").run(burst=True)
    rate = jobs / (time.perf_counter() - started)
    per_job = (time.process_time() - cpu) / jobs * 1e6
    await registry.close()
    return rate, per_job


def hook_cost(runs: int = 200_000) -> float:
    """Microseconds the metrics observer adds to one run (its on_started + on_settled,
    called through Observers as the worker calls them): the steadiest figure of all."""
    from runa_runner.drivers.base import Outcome
    from runa_runner.events import Observers
    from runa_runner.job import Envelope

    envelope = Envelope(id="j1", queue="q", job="noop", payload={})
    outcome = Outcome(queue="q", job_id="j1", token="t", kind="ack")
    costs = []
    for metered in (False, True):
        observers = Observers()
        if metered:
            observers.add(WorkerMetrics(Names(["q"], ["noop"], ["memory"]), ["w"],
                                        {"w": ["memory"]}))
        started = time.process_time()
        for _ in range(runs):
            observers.on_started("w", envelope)
            observers.on_settled("w", envelope, outcome, True, 0.001)
        costs.append((time.process_time() - started) / runs * 1e6)
    return costs[1] - costs[0]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--jobs", type=int, default=10_000)
    p.add_argument("--concurrency", type=int, default=50)
    p.add_argument("--repeats", type=int, default=7)
    args = p.parse_args()
    rates: dict[bool, list[float]] = {False: [], True: []}
    cpu: dict[bool, list[float]] = {False: [], True: []}
    # The order flips every repeat so that neither drain is always the second one.
    for repeat in range(args.repeats):
        for metered in ((False, True) if repeat % 2 == 0 else (True, False)):
            rate, per_job = asyncio.run(drain(args.jobs, args.concurrency, metered))
            rates[metered].append(rate)
            cpu[metered].append(per_job)
    for name, key in (("plain", False), ("metrics", True)):
        print(f"{name:8} {statistics.median(rates[key]):8,.0f} jobs/s "
              f"({min(rates[key]):,.0f}-{max(rates[key]):,.0f}); CPU "
              f"{statistics.median(cpu[key]):.0f} us/job ({min(cpu[key]):.0f}-{max(cpu[key]):.0f})")
    plain, metered = (statistics.median(rates[k]) for k in (False, True))
    plain_cpu, metered_cpu = (statistics.median(cpu[k]) for k in (False, True))
    # Each repeat's pair ratio cancels the machine's slow drifts better than two medians.
    pair_rate = statistics.median(m / p for p, m in zip(rates[False], rates[True], strict=True))
    pair_cpu = statistics.median(m / p for p, m in zip(cpu[False], cpu[True], strict=True))
    print(f"with metrics: {(1 - metered / plain) * 100:+.1f}% slower by the wall clock, "
          f"{(metered_cpu / plain_cpu - 1) * 100:+.1f}% more CPU per job (medians); "
          f"median pair: {(1 - pair_rate) * 100:+.1f}% slower, "
          f"{(pair_cpu - 1) * 100:+.1f}% more CPU")
    per_run = hook_cost()
    print(f"metrics observer per run: {per_run:.2f} us of CPU "
          f"({per_run / plain_cpu * 100:.1f}% of a plain run's CPU here)")


if __name__ == "__main__":
    main()
