"""Benchmark runa-runner on every driver and the peers on the same Redis, in one run.

    python benchmarks/run.py                    # everything, 3 repeats, 5,000 jobs per drain
    python benchmarks/run.py --quick            # one short repeat: checks that it all runs
    python benchmarks/run.py --drivers redis --peers arq,celery
    python benchmarks/run.py --write-readme     # also rewrites the README's Benchmarks table
    python benchmarks/run.py --metrics-overhead --drivers sqlite,redis   # drain +/- --metrics

What is measured and how: benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import shlex
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import report  # noqa: E402  (the benchmark modules live next to this script)
from measure import (  # noqa: E402
    Config,
    Row,
    measure_peer,
    measure_runa,
    metrics_overhead,
    soak,
)
from peers import DEFAULT, all_peers  # noqa: E402

DRIVERS = ("memory", "sqlite", "redis", "amqp", "postgres")


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--drivers", default=",".join(DRIVERS),
                   help="comma-separated runa-runner drivers (default: all)")
    p.add_argument("--peers", default=",".join(DEFAULT),
                   help="comma-separated peers, or 'none' (default: %(default)s; "
                        "rq-fork and celery-prefork only when named)")
    p.add_argument("--repeats", type=int, default=3, help="repeats per measurement (median)")
    p.add_argument("--jobs", type=int, default=5000, help="jobs per drain and bulk push")
    p.add_argument("--push-jobs", type=int,
                   help="jobs per single-push loop (default: min(jobs, 2000))")
    p.add_argument("--latency-jobs", type=int, default=100, help="jobs per latency run")
    p.add_argument("--interval", type=float, default=0.02,
                   help="seconds between pushes of the latency run")
    p.add_argument("--quick", action="store_true",
                   help="1 repeat, 1,000 jobs, 30 latency jobs (a smoke run)")
    p.add_argument("--soak", type=int, metavar="JOBS",
                   help="instead of the tables: one drain of JOBS jobs per driver (c=8), "
                        "RSS after 10%% of them vs the peak (e.g. 200000)")
    p.add_argument("--metrics-overhead", action="store_true",
                   help="instead of the tables: drains of work w64 --burst without and with "
                        "--metrics, alternated, per driver, and how much slower with")
    p.add_argument("--write-readme", action="store_true",
                   help="rewrite the Benchmarks section of README.md")
    args = p.parse_args(argv)
    if args.quick:
        args.repeats, args.jobs, args.latency_jobs = 1, 1000, 30
    unknown = set(names(args.drivers)) - set(DRIVERS)
    if unknown:
        p.error(f"unknown driver(s): {', '.join(sorted(unknown))}")
    known = {peer.name for peer in all_peers()}
    unknown = set(names(args.peers)) - known
    if unknown:
        p.error(f"unknown peer(s): {', '.join(sorted(unknown))} "
                f"(known: {', '.join(sorted(known))})")
    return args


def names(text: str) -> list[str]:
    return [] if text == "none" else [n.strip() for n in text.split(",") if n.strip()]


def command(argv: list[str] | None) -> str:
    args = sys.argv[1:] if argv is None else argv
    return shlex.join(["python", "benchmarks/run.py", *args])


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    cfg = Config(repeats=args.repeats, jobs=args.jobs,
                 push_jobs=args.push_jobs or min(args.jobs, 2000),
                 latency_jobs=args.latency_jobs, interval=args.interval)
    header = [*report.machine(), f"command: {command(argv)}",
              f"workload: no-op handler, payload {{\"n\": i, \"to\": \"user@example.com\"}}; "
              f"{cfg.jobs} jobs per drain/bulk push, {cfg.push_jobs} per single-push loop, "
              f"{cfg.latency_jobs} latency jobs every {cfg.interval * 1000:g} ms; "
              f"median (min–max) of {cfg.repeats} repeat(s)"]
    print("\n".join(header), flush=True)
    if args.soak:
        with tempfile.TemporaryDirectory(prefix="runa-bench-") as tmp:
            for driver in names(args.drivers):
                print(soak(driver, Path(tmp), args.soak), flush=True)
        return 0
    if args.metrics_overhead:
        with tempfile.TemporaryDirectory(prefix="runa-bench-") as tmp:
            for driver in names(args.drivers):
                print(metrics_overhead(driver, Path(tmp), cfg), flush=True)
        return 0
    started = time.monotonic()
    runa: dict[str, Row] = {}
    peer_rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="runa-bench-") as tmp:
        root = Path(tmp)
        for driver in names(args.drivers):
            runa[driver] = progress(measure_runa(driver, root, cfg))
        wanted = names(args.peers)
        for peer in all_peers():
            if peer.name in wanted:
                peer_rows.append(progress(measure_peer(peer, root, cfg)))
    body = report.render(header, runa, peer_rows)
    print()
    print(body)
    print(f"({time.monotonic() - started:.0f}s)")
    if args.write_readme:
        report.write_readme(HERE.parent / "README.md", body)
        print("README.md: Benchmarks section rewritten")
    return 0


def progress(row: Row) -> Row:
    """One line per target as it finishes (the full tables come at the end)."""
    summary = ", ".join(f"{k} {v.median:,.1f}" for k in row.samples
                        if (v := row.spread(k)) is not None)
    status = f"FAILED: {row.failure}" if row.failure else "ok"
    print(f"{row.name}: {status}{'; ' + summary if summary else ''}", flush=True)
    return row


if __name__ == "__main__":
    sys.exit(main())
