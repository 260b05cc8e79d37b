"""Idle CPU of one scheduler process firing 100 schedules (DESIGN §10, issue 14's note).

Writes a manifest with 100 schedules (50 cron expressions in several time zones and 50
``every`` periods of an hour or more, so none comes due during the measurement) on the
SQLite driver, starts ``runa-runner schedule run`` on it, lets it settle, then reads the
process's CPU time (user + system, from /proc) over ``--seconds`` of wall time.

    python benchmarks/schedule_idle.py [--seconds 60] [--driver sqlite|redis]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

ZONES = ("UTC", "Europe/Berlin", "America/New_York", "Asia/Tokyo", "Australia/Sydney")


def manifest(driver: str) -> str:
    store = ("{type: sqlite, path: queue.db}" if driver == "sqlite" else
             '{type: redis, url: "redis://127.0.0.1:6379/0", prefix: "bench-idle:"}')
    lines = ["drivers:", f"  store: {store}", "queues:", "  q: {driver: store, workers: [w]}",
             "workers:", "  w: {}", "jobs:", "  j: {handler: 'json:dumps', queue: q}",
             "schedules:"]
    for i in range(50):
        lines.append(f"  cron{i}: {{job: j, cron: '{i % 60} {i % 24} * * *', "
                     f"timezone: {ZONES[i % len(ZONES)]}}}")
        lines.append(f"  every{i}: {{job: j, every: {i + 1}h}}")
    return "\n".join(lines) + "\n"


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--driver", choices=("sqlite", "redis"), default="sqlite")
    args = parser.parse_args()
    exe = shutil.which("runa-runner") or "runa-runner"
    with tempfile.TemporaryDirectory() as folder:
        Path(folder, "jobs.yaml").write_text(manifest(args.driver))
        proc = subprocess.Popen([exe, "schedule", "run"], cwd=folder,
                                stderr=subprocess.PIPE, text=True)
        try:
            assert proc.stderr is not None
            for line in proc.stderr:  # wait until it runs (imports and startup excluded)
                if "scheduler started" in line:
                    break
            time.sleep(6.0)  # first pass: every schedule's state is read once
            start_cpu, start = cpu_seconds(proc.pid), time.monotonic()
            time.sleep(args.seconds)
            used, wall = cpu_seconds(proc.pid) - start_cpu, time.monotonic() - start
        finally:
            proc.terminate()
            proc.wait(30)
    print(f"100 schedules, {args.driver}: {used:.3f} s CPU in {wall:.1f} s wall "
          f"= {100 * used / wall:.3f}% of one core")


if __name__ == "__main__":
    main()
