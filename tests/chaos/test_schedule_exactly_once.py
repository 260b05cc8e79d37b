"""Exactly once under SIGKILL: three schedulers (two ``work`` processes and one ``schedule
run``) fire an ``every: 1s`` schedule for about ten seconds while the controller SIGKILLs
two of them at a time, twice, and starts them again. Every slot of the window fires
once: no slot has two jobs, and none is missing between the first and the last, since a
scheduler was always up (DESIGN §10).
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path

import pytest

from .conftest import drop_postgres_schema, drop_redis_keys
from .harness import EXE, environment, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

MANIFEST = """\
drivers:
  store: {driver}
queues:
  sched: {{driver: store, workers: [w]}}
workers:
  w: {{concurrency: 4, lease: 5s, poll_interval: 50ms, stop_timeout: 10s}}
jobs:
  tick: {{handler: "sched_handlers:record", queue: sched}}
schedules:
  tick: {{job: tick, every: 1s}}
"""
#: Seconds between the kills, and after the last one.
PHASE = 3.5


class Proc:
    def __init__(self, root: Path, name: str, args: list[str]) -> None:
        self.log = root / f"{name}.err"
        self._err = self.log.open("w", encoding="utf-8")
        self.proc = subprocess.Popen([EXE, *args], cwd=root, env=environment(),
                                     stdout=subprocess.DEVNULL, stderr=self._err)

    def ready(self) -> bool:
        """True once its scheduler started (signals are handled from then on)."""
        return "scheduler started" in self.log.read_text(encoding="utf-8")

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        assert self.proc.wait(10) == -signal.SIGKILL

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(10)
        self._err.close()


@pytest.fixture
def project(tmp_path: Path, require_service: Callable[[str], None], redis_url: str,
            postgres_url: str) -> Iterator[Callable[[str], Path]]:
    prefixes: list[str] = []
    schemas: list[str] = []

    def make(kind: str) -> Path:
        root = tmp_path / kind
        root.mkdir()
        tag = uuid.uuid4().hex[:10]
        if kind == "redis":
            require_service("redis")
            prefixes.append(f"sched-chaos:{tag}:")
            driver = f'{{type: redis, url: "{redis_url}", prefix: "{prefixes[-1]}"}}'
        elif kind == "postgres":
            require_service("postgres")
            schemas.append(f"sched_chaos_{tag}")
            driver = f'{{type: postgres, url: "{postgres_url}", schema: "{schemas[-1]}"}}'
        else:
            driver = "{type: sqlite, path: queue.db}"
        (root / "jobs.yaml").write_text(MANIFEST.format(driver=driver), encoding="utf-8")
        shutil.copy(Path(__file__).with_name("sched_handlers.py"), root / "sched_handlers.py")
        return root

    yield make
    for prefix in prefixes:
        drop_redis_keys(redis_url, prefix)
    for schema in schemas:
        drop_postgres_schema(postgres_url, schema)


def fires(root: Path) -> dict[str, set[str]]:
    """slot (ISO, UTC) -> the distinct job ids that ran for it."""
    out: dict[str, set[str]] = defaultdict(set)
    for path in (root / "out").glob("fires.*"):
        for line in path.read_text(encoding="utf-8").splitlines():
            slot, job_id = line.split()
            out[slot].add(job_id)
    return out


@pytest.mark.parametrize("kind", ["sqlite", "redis", "postgres"])
def test_every_slot_fires_once_while_schedulers_are_killed(
    kind: str, project: Callable[[str], Path],
) -> None:
    root = project(kind)
    started = {0: 0, 1: 0, 2: 0}
    args = {0: ["work", "w"], 1: ["schedule", "run"], 2: ["work", "w"]}
    procs: dict[int, Proc] = {}
    every: list[Proc] = []

    def start(i: int) -> None:
        procs[i] = Proc(root, f"p{i}-{started[i]}", args[i])
        every.append(procs[i])
        started[i] += 1

    def all_ready() -> None:
        wait_for(lambda: all(p.ready() for p in procs.values()), "the schedulers to start", 60)

    try:
        for i in (0, 1, 2):
            start(i)
        all_ready()
        wait_for(lambda: len(fires(root)) >= 2, "the first fires", 60)
        for victims in ((0, 1), (2, 1)):
            time.sleep(PHASE)
            for i in victims:
                procs[i].kill()
            for i in victims:
                start(i)
            all_ready()
        time.sleep(PHASE)
        stopped_at = time.time()
        for p in procs.values():
            p.proc.send_signal(signal.SIGTERM)
        for p in procs.values():
            assert p.proc.wait(30) in (0, 1), p.log.read_text()
        # Run what the last slots pushed (no scheduler: nothing new fires).
        subprocess.run([EXE, "work", "w", "--burst", "--no-schedules"], cwd=root,
                       env=environment(), check=True, capture_output=True, timeout=60)
    finally:
        for p in every:
            p.close()

    got = fires(root)
    doubled = {slot: ids for slot, ids in got.items() if len(ids) > 1}
    assert doubled == {}, f"slots fired more than once: {doubled}"
    seconds = sorted(int(datetime.fromisoformat(slot).timestamp()) for slot in got)
    missing = sorted(set(range(seconds[0], seconds[-1] + 1)) - set(seconds))
    assert missing == [], f"slots never fired: {missing}"
    assert seconds[-1] >= stopped_at - 3, "the last slots before the stop fired"
    assert len(seconds) >= 3 * PHASE
    listing = json.loads(subprocess.run(
        [EXE, "schedule", "list", "--json"], cwd=root, env=environment(), check=True,
        capture_output=True, text=True, timeout=60).stdout)
    assert datetime.fromisoformat(listing[0]["last_slot"]).timestamp() == seconds[-1]
    print(f"\n{kind}: {len(seconds)} slots fired once each, "
          f"{sum(started.values())} scheduler processes started, 4 SIGKILLed")
