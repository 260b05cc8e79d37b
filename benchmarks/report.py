"""The report: machine and versions, the two tables, the issue's targets, the README section."""

from __future__ import annotations

import datetime
import importlib.metadata
import os
import platform
from collections.abc import Sequence
from pathlib import Path

from measure import Row
from workloads import Spread

START, END = "<!-- bench:start -->", "<!-- bench:end -->"
INTRO = ("No-op jobs, one worker process, runa-runner on every driver and the peers on the same "
         "Redis in the same run. What each figure means and how it is taken: "
         "[benchmarks/README.md](benchmarks/README.md). The table below is rewritten by "
         "`python benchmarks/run.py --write-readme`; a 2-core machine shared with other work "
         "is noisy, so compare the ratios within one run.\n\n")
PACKAGES = ("runa-runner", "redis", "hiredis", "aio-pika", "rq", "dramatiq", "arq", "celery",
            "kombu", "taskiq", "taskiq-redis", "huey", "psutil")


def machine() -> list[str]:
    cpu = "unknown CPU"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    versions = []
    for name in PACKAGES:
        try:
            versions.append(f"{name} {importlib.metadata.version(name)}")
        except importlib.metadata.PackageNotFoundError:
            continue
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    return [
        f"date: {now}",
        f"machine: {cpu}, {os.cpu_count()} cores, {platform.system()} {platform.release()}",
        f"python: {platform.python_implementation()} {platform.python_version()}",
        f"servers: {servers()}",
        "packages: " + ", ".join(versions),
    ]


def servers() -> str:
    try:
        import redis

        client = redis.Redis()
        version = f"Redis {client.info('server')['redis_version']}"
        client.close()
    except Exception:  # the report still prints without a server
        version = "Redis unavailable"
    return f"{version}, RabbitMQ on 127.0.0.1:5672"


def cell(spread: Spread | None, digits: int = 0) -> str:
    if spread is None:
        return "—"
    fmt = f"{{:,.{digits}f}}"
    mid, low, high = (fmt.format(v) for v in (spread.median, spread.low, spread.high))
    return mid if low == high else f"{mid} ({low}–{high})"


def pair(row: Row, a: str, b: str, digits: int) -> str:
    left, right = row.spread(a), row.spread(b)
    if left is None and right is None:
        return "—"
    return f"{cell(left, digits)} / {cell(right, digits)}"


def runa_table(rows: Sequence[Row]) -> list[str]:
    out = ["| runa-runner driver | push jobs/s | bulk push jobs/s | drain jobs/s, c=8 | "
           "drain jobs/s, c=64 | latency p50 / p99 ms | peak RSS MB, c=8 / c=64 |",
           "|---|---|---|---|---|---|---|"]
    for r in rows:
        if r.failure and not r.samples:
            out.append(f"| {r.name} | not measured: {r.failure} ||||||")
            continue
        out.append(f"| {r.name} | {cell(r.spread('push'))} | {cell(r.spread('bulk'))} | "
                   f"{cell(r.spread('drain8'))} | {cell(r.spread('drain64'))} | "
                   f"{pair(r, 'p50', 'p99', 2)} | {pair(r, 'rss8', 'rss64', 0)} |")
        if r.failure:
            out.append(f"| ↳ failed | {r.failure} ||||||")
    return out


def ratio(ours: Spread | None, theirs: Spread | None) -> str:
    if ours is None or theirs is None or theirs.median == 0:
        return "—"
    return f"{ours.median / theirs.median:.1f}×"


def peer_table(rows: Sequence[Row], base: Row | None) -> list[str]:
    out = ["| peer (worker command) | push jobs/s | runa ÷ peer | drain jobs/s, c=8 | "
           "runa ÷ peer | latency p50 / p99 ms | peak RSS MB |",
           "|---|---|---|---|---|---|---|"]
    push = base.spread("push") if base else None
    drain = base.spread("drain8") if base else None
    for r in rows:
        name = f"{r.name} (`{r.how}`)"
        if r.failure and not r.samples:
            out.append(f"| {name} | not measured: {r.failure} ||||||")
            continue
        out.append(f"| {name} | {cell(r.spread('push'))} | {ratio(push, r.spread('push'))} | "
                   f"{cell(r.spread('drain8'))} | {ratio(drain, r.spread('drain8'))} | "
                   f"{pair(r, 'p50', 'p99', 2)} | {cell(r.spread('rss8'))} |")
        if r.failure:
            out.append(f"| ↳ failed | {r.failure} ||||||")
    return out


def median(row: Row | None, metric: str) -> float | None:
    spread = row.spread(metric) if row else None
    return spread.median if spread else None


def check(label: str, value: float | None, goal: float | None, *, most: bool = False) -> str:
    if value is None or goal is None:
        return f"- [ ] {label}: not measured"
    ok = value <= goal if most else value >= goal
    return f"- [{'x' if ok else ' '}] {label}: {value:,.2f} vs {goal:,.2f}"


def targets(runa: dict[str, Row], peers: Sequence[Row]) -> list[str]:
    """The issue's targets, checked against the medians of this run (printed, not asserted)."""
    redis = runa.get("redis")
    fastest_drain = max((m for p in peers if (m := median(p, "drain8"))), default=None)
    fastest_push = max((m for p in peers if (m := median(p, "push"))), default=None)
    lines = [
        check("Redis drain c=8 >= 3x the fastest peer", median(redis, "drain8"),
              3 * fastest_drain if fastest_drain else None),
        check("Redis drain c=8 >= 5,000 jobs/s", median(redis, "drain8"), 5000),
        check("Redis drain c=64 no slower than c=8", median(redis, "drain64"),
              median(redis, "drain8")),
        check("Redis single push no slower than the fastest peer", median(redis, "push"),
              fastest_push),
        check("SQLite drain c=8 >= 2,000 jobs/s", median(runa.get("sqlite"), "drain8"), 2000),
        check("memory drain c=8 >= 20,000 jobs/s", median(runa.get("memory"), "drain8"), 20000),
        check("Redis idle latency p50 <= 1.5 ms", median(redis, "p50"), 1.5, most=True),
    ]
    for name, row in runa.items():
        push = median(row, "push")
        lines.append(check(f"{name} bulk push >= 10x single push", median(row, "bulk"),
                           10 * push if push else None))
    lines.append("- [ ] RSS flat within 10% across a 200,000-job drain: measured apart, by "
                 "`python benchmarks/run.py --drivers redis --soak 200000`")
    return lines


def render(header: list[str], runa: dict[str, Row], peers: Sequence[Row]) -> str:
    parts = ["```", *header, "```", ""]
    parts += runa_table(list(runa.values()))
    if peers:
        parts += ["", "Peers on the same Redis, in the same run; \"runa ÷ peer\" divides "
                  "runa-runner/redis by the peer (above 1: runa-runner is faster).", ""]
        parts += peer_table(peers, runa.get("redis"))
    parts += ["", "Targets (issue 7), from the medians above:", "", *targets(runa, peers)]
    return "\n".join(parts) + "\n"


def write_readme(path: Path, body: str) -> None:
    """Replace the text between the bench markers (adding the section at the end if absent)."""
    text = path.read_text()
    block = f"{START}\n{body}{END}"
    if START in text and END in text:
        head, rest = text.split(START, 1)
        text = head + block + rest.split(END, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n## Benchmarks\n\n" + INTRO + block + "\n"
    path.write_text(text)
