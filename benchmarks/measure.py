"""The measured steps, for runa-runner on one driver and for one peer.

Every rate is jobs / seconds of the loop that did the work: the pusher's own loop for
pushes (process start and imports excluded), and for drains the span from the first to
the last job start recorded by the handlers (worker boot and exit excluded). A drain
queue is filled first, then one worker process is started on it.
"""

from __future__ import annotations

import contextlib
import resource
import statistics
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import runa_targets as runa
from peers import Peer
from workloads import (
    MAIN_GUARD,
    PUSH_MAIN,
    RECORD,
    BenchFailed,
    Spread,
    Target,
    Worker,
    drain_rate,
    latencies,
    percentile,
    read_records,
    run_pusher,
    write_files,
)

#: Marks a peer's Redis database as owned by this benchmark (safe to FLUSHDB).
OWNER_KEY = "runa-runner:benchmarks:owner"
MB = 2**20


@dataclass(frozen=True)
class Config:
    repeats: int
    jobs: int
    push_jobs: int
    latency_jobs: int
    interval: float

    @property
    def drain_timeout(self) -> float:
        return 60 + self.jobs / 40


@dataclass
class Row:
    """Samples of one target, by metric (push, bulk, drain8, drain64, p50, p99, rss8...)."""

    name: str
    how: str
    samples: dict[str, list[float]] = field(default_factory=dict)
    failure: str | None = None

    def add(self, metric: str, value: float) -> None:
        self.samples.setdefault(metric, []).append(value)

    def spread(self, metric: str) -> Spread | None:
        return Spread.of(self.samples.get(metric, []))


# ---- runa-runner --------------------------------------------------------------------


def measure_runa(driver: str, root: Path, cfg: Config) -> Row:
    how = ("in-process Unit (memory cannot cross processes)" if driver == "memory"
           else "runa-runner work wN --burst")
    row = Row(name=f"runa-runner/{driver}", how=how)
    row.failure = runa.unavailable(driver)
    if row.failure:
        return row
    target = runa.make_target(driver, root)
    for _ in range(cfg.repeats):
        try:
            runa_repeat(target, driver, cfg, row)
        except (BenchFailed, OSError) as exc:
            row.failure = str(exc)
            break
    return row


@contextlib.contextmanager
def namespace(target: Target, driver: str) -> Iterator[None]:
    runa.new_namespace(target, driver)
    target.reset_out()
    try:
        yield
    finally:
        runa.drop_namespace(target, driver)


def runa_repeat(target: Target, driver: str, cfg: Config, row: Row) -> None:
    with namespace(target, driver):
        row.add("push", cfg.push_jobs / run_pusher(target, "single", cfg.push_jobs))
    for concurrency in (8, 64):
        with namespace(target, driver):
            row.add("bulk", cfg.jobs / run_pusher(target, "bulk", cfg.jobs))
            if driver == "memory":
                target.reset_out()  # the bulk pusher's jobs died with it; the drain pushes its own
            argv = runa.worker_argv(driver, concurrency, cfg.jobs, burst=True)
            worker = Worker(target, argv)
            try:
                code = worker.wait_exit(cfg.drain_timeout)
            finally:
                worker.stop()
            if code != 0:
                raise BenchFailed(f"work --burst exited {code}: see {worker.log}")
            row.add(f"drain{concurrency}", drain_rate(target.out, cfg.jobs))
            row.add(f"rss{concurrency}", worker.peak_rss / MB)
    with namespace(target, driver):
        if driver == "memory":
            argv = runa.in_process_argv("latency", cfg.latency_jobs, cfg.interval)
            worker = Worker(target, argv)
            try:
                worker.wait_exit(60 + cfg.latency_jobs * cfg.interval * 2)
            finally:
                worker.stop()
            add_latency(row, latencies(target.out))
        else:
            argv = runa.worker_argv(driver, 8, 0, burst=False)
            add_latency(row, serve_latency(target, argv, cfg))


def soak(driver: str, root: Path, jobs: int) -> str:
    """One ``work w8 --burst`` drain of ``jobs``: RSS once 10% ran vs the peak at the end."""
    reason = runa.unavailable(driver)
    if reason or driver == "memory":
        return f"runa-runner/{driver}: soak not run ({reason or 'needs a worker process'})"
    target = runa.make_target(driver, root)
    with namespace(target, driver):
        run_pusher(target, "bulk", jobs)
        worker = Worker(target, runa.worker_argv(driver, 8, jobs, burst=True))
        try:
            worker.wait_exit(60 + jobs / 200)
        finally:
            worker.stop()
        rate = drain_rate(target.out, jobs)
        starts = sorted(started for started, _ in read_records(target.out))
    early_at = starts[len(starts) // 10]
    early = max((rss for t, rss in worker.rss_samples if t <= early_at), default=0)
    growth = (worker.peak_rss / early - 1) * 100 if early else float("nan")
    return (f"runa-runner/{driver}: {jobs:,}-job drain at {rate:,.0f} jobs/s; RSS "
            f"{early / MB:.1f} MB after 10% of the jobs, peak {worker.peak_rss / MB:.1f} MB "
            f"({growth:+.1f}%)")


def metrics_overhead(driver: str, root: Path, cfg: Config, concurrency: int = 64) -> str:
    """Drains of ``work wN --burst`` without and with ``--metrics``, alternated in one run
    (so both see the same machine; the order flips every repeat, so neither is always the
    second), and how much slower the metered drain is: the median of each repeat's pair
    ratio, which cancels the machine's slow drifts; also the worker's CPU time per job (its
    boot included, where --metrics imports prometheus-client), steadier than rates on a busy
    machine."""
    reason = runa.unavailable(driver)
    if reason or driver == "memory":
        return f"runa-runner/{driver}: overhead not run ({reason or 'needs a worker process'})"
    target = runa.make_target(driver, root)
    rates: dict[str, list[float]] = {"plain": [], "metrics": []}
    cpu: dict[str, list[float]] = {"plain": [], "metrics": []}
    kinds: list[tuple[str, list[str]]] = [("plain", []),
                                          ("metrics", ["--metrics", "127.0.0.1:0"])]
    for repeat in range(cfg.repeats):
        for kind, extra in (kinds if repeat % 2 == 0 else kinds[::-1]):
            with namespace(target, driver):
                run_pusher(target, "bulk", cfg.jobs)
                argv = [*runa.worker_argv(driver, concurrency, cfg.jobs, burst=True), *extra]
                before = children_cpu()
                worker = Worker(target, argv)
                try:
                    code = worker.wait_exit(cfg.drain_timeout)
                finally:
                    worker.stop()
                if code != 0:
                    raise BenchFailed(f"work --burst exited {code}: see {worker.log}")
                cpu[kind].append((children_cpu() - before) / cfg.jobs * 1e6)
                rates[kind].append(drain_rate(target.out, cfg.jobs))
    plain, metered = (Spread.of(rates[k]) for k in ("plain", "metrics"))
    assert plain is not None and metered is not None
    slower = (1 - statistics.median(m / p for p, m in zip(rates["plain"], rates["metrics"],
                                                          strict=True))) * 100
    plain_cpu, metered_cpu = (Spread.of(cpu[k]) for k in ("plain", "metrics"))
    assert plain_cpu is not None and metered_cpu is not None
    more = (metered_cpu.median / plain_cpu.median - 1) * 100
    return (f"runa-runner/{driver}: drain w{concurrency} {plain.median:,.0f} jobs/s "
            f"({plain.low:,.0f}–{plain.high:,.0f}); with --metrics {metered.median:,.0f} "
            f"({metered.low:,.0f}–{metered.high:,.0f}): {slower:+.1f}% slower (median pair); "
            f"worker CPU {plain_cpu.median:.0f} vs {metered_cpu.median:.0f} µs/job: {more:+.1f}%")


def children_cpu() -> float:
    """CPU seconds of this process's children that have exited (user + system)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def serve_latency(target: Target, argv: list[str], cfg: Config) -> list[float]:
    """Push->start seconds with a running worker, jobs pushed one at a time."""
    worker = Worker(target, argv)
    try:
        run_pusher(target, "warm", 1)  # carries no push time: waits out the worker's boot
        worker.wait_lines(1, 60)
        run_pusher(target, "latency", cfg.latency_jobs, cfg.interval)
        worker.wait_lines(cfg.latency_jobs + 1, 30)
    finally:
        worker.stop()
    return latencies(target.out)


def add_latency(row: Row, values: list[float]) -> None:
    if not values:
        raise BenchFailed("no latency samples recorded")
    row.add("p50", percentile(values, 0.50) * 1000)
    row.add("p99", percentile(values, 0.99) * 1000)


# ---- peers -------------------------------------------------------------------------


def measure_peer(peer: Peer, root: Path, cfg: Config) -> Row:
    row = Row(name=peer.name, how=peer.how)
    if not peer.installed():
        row.failure = f"not installed (pip install -e '.[bench]'; module {peer.module})"
        return row
    row.failure = claim_db(peer)
    if row.failure:
        return row
    target = Target(name=peer.name, app_dir=root / f"peer-{peer.name}",
                    env={"BENCH_REDIS_URL": peer.url})
    write_files(target.app_dir, {"bench_app.py": RECORD + peer.app,
                                 "bench_push.py": peer.push + PUSH_MAIN + MAIN_GUARD})
    try:
        for _ in range(cfg.repeats):
            peer_repeat(peer, target, cfg, row)
    except (BenchFailed, OSError) as exc:
        row.failure = str(exc)
    finally:
        flush(peer, own=False)
    return row


def peer_repeat(peer: Peer, target: Target, cfg: Config, row: Row) -> None:
    flush(peer)
    row.add("push", cfg.push_jobs / run_pusher(target, "single", cfg.push_jobs))
    flush(peer)
    target.reset_out()
    run_pusher(target, "fill", cfg.jobs)
    worker = Worker(target, peer.argv(peer.url, 8))
    try:
        worker.wait_lines(cfg.jobs, cfg.drain_timeout)
    finally:
        worker.stop()
    row.add("drain8", drain_rate(target.out, cfg.jobs))
    row.add("rss8", worker.peak_rss / MB)
    flush(peer)
    target.reset_out()
    add_latency(row, serve_latency(target, peer.argv(peer.url, 8), cfg))


def claim_db(peer: Peer) -> str | None:
    """None if the peer's database is empty or ours, else why it is left alone."""
    import redis

    try:
        client = redis.Redis.from_url(peer.url)
        size = client.dbsize()
        ours = client.exists(OWNER_KEY)
        client.close()
    except redis.RedisError as exc:
        return f"Redis unavailable: {exc}"
    if size and not ours:
        return f"Redis db {peer.db} holds {size} keys that are not ours: left alone"
    return None


def flush(peer: Peer, *, own: bool = True) -> None:
    import redis

    client = redis.Redis.from_url(peer.url)
    client.flushdb()
    if own:
        client.set(OWNER_KEY, "runa-runner benchmarks (benchmarks/run.py)")
    client.close()
