"""`work` runs sync handlers up to the worker's concurrency, not the thread pool's default."""

from __future__ import annotations

import subprocess
from pathlib import Path

HANDLER = '''
import threading, time

lock = threading.Lock()
running = 0
peak = 0


def slow(job):
    global running, peak
    with lock:
        running += 1
        peak = max(peak, running)
    time.sleep(0.3)
    with lock:
        running -= 1
    with open("peak.txt", "w") as out:
        out.write(str(peak))
'''

MANIFEST = '''
drivers: {local: {type: sqlite, path: queue.db}}
default_driver: local
queues: {q: {workers: [w]}}
workers: {w: {concurrency: 20}}
jobs: {slow: {handler: "sync_handlers:slow", queue: q}}
'''


def cli(cwd: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["runa-runner", *args], cwd=cwd, input=stdin, capture_output=True,
                          text=True, timeout=60, check=False)


def test_twenty_sync_handlers_run_at_once(tmp_path: Path) -> None:
    (tmp_path / "sync_handlers.py").write_text(HANDLER)
    (tmp_path / "jobs.yaml").write_text(MANIFEST)
    pushed = cli(tmp_path, "push", "slow", "--jsonl", "-", stdin="{}\n" * 40)
    assert pushed.returncode == 0, pushed.stderr

    done = cli(tmp_path, "work", "w", "--burst")

    assert done.returncode == 0, done.stderr
    # 40 jobs of 0.3 s: all 20 slots fill (the default pool would cap this at cpu + 4).
    assert int((tmp_path / "peak.txt").read_text()) == 20
