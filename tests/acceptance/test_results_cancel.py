"""``job ID`` shows a kept result; ``job ID --cancel`` deletes or stops a job (issue 18)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from .conftest import Project, drop_redis_keys, drop_schema, wait_for

MANIFEST = """\
default_driver: local
drivers:
  local: {driver}
queues:
  main: {{workers: [main], retry: 3, retry_delay: 0s}}
workers:
  main: {{concurrency: 2, lease: 1s, poll_interval: 50ms, stop_timeout: 5s}}
jobs:
  calc: {{handler: "rc_handlers:calc", queue: main}}
  hang: {{handler: "rc_handlers:hang", queue: main}}
"""

HANDLERS = '''\
import asyncio
from pathlib import Path

OUT = Path(__file__).parent / "out"


async def calc(job):
    return {"sum": sum(job.payload["numbers"])}


async def hang(job):
    OUT.mkdir(exist_ok=True)
    (OUT / "hang.log").open("a").write(f"start {job.id} attempt {job.attempt}\\n")
    await asyncio.sleep(60)
'''

NOT_KEPT = "unknown job (no such job, or it succeeded and was not kept)"


@pytest.fixture(params=["sqlite", "redis", "postgres"])
def rc_project(request: pytest.FixtureRequest, tmp_path: Path, redis_url: str,
               postgres_url: str, require_service: Callable[[str], None]) -> Iterator[Project]:
    tag = uuid.uuid4().hex[:12]
    driver = "{type: sqlite, path: .runa/queue.db}"
    if request.param == "redis":
        require_service("redis")
        driver = f'{{type: redis, url: "{redis_url}", prefix: "rc-{tag}:"}}'
    elif request.param == "postgres":
        require_service("postgres")
        driver = f'{{type: postgres, url: "{postgres_url}", schema: rc_{tag}}}'
    p = Project(tmp_path, MANIFEST.format(driver=driver))
    tmp_path.joinpath("rc_handlers.py").write_text(HANDLERS, encoding="utf-8")
    yield p
    for worker in p.workers:
        worker.close()
    if request.param == "redis":
        drop_redis_keys(redis_url, f"*rc-{tag}:*")
    elif request.param == "postgres":
        drop_schema(postgres_url, f"rc_{tag}")


def test_job_shows_a_kept_result(rc_project: Project) -> None:
    p = rc_project
    kept = p.push("calc", {"numbers": [1, 2, 3]}, "--result-ttl", "1m")
    gone = p.push("calc", {"numbers": [4]})
    p.run("work", "main", "--burst")

    info = p.json("job", kept)
    assert (info["state"], info["result"]) == ("succeeded", {"sum": 6})
    assert isinstance(info["finished_at"], float) and info["finished_at"] >= info["enqueued_at"]
    lines = p.run("job", kept).stdout.splitlines()
    assert [ln.split()[1:] for ln in lines if ln.startswith("state:")] == [["succeeded"]]
    assert [ln.split(None, 1)[1] for ln in lines if ln.startswith("result:")] == ['{"sum": 6}']
    assert any(ln.startswith("finished_at:") for ln in lines)

    proc = p.run("job", gone, ok=False)
    assert (proc.returncode, proc.stdout) == (1, "")
    assert proc.stderr == f"runa-runner: error: job '{gone}': {NOT_KEPT}\n"


def test_cancel_deletes_a_waiting_job_and_its_lock(rc_project: Project) -> None:
    p = rc_project
    job_id = p.push("calc", {"numbers": []}, "--delay", "1h", "--unique", "once")
    proc = p.run("job", job_id, "--cancel")
    assert proc.stdout == f"job {job_id} deleted (it had not started)\n"
    assert p.run("job", job_id, ok=False).returncode == 1
    again = p.push("calc", {"numbers": []}, "--unique", "once")
    assert again != job_id
    assert p.json("job", again, "--cancel") == {"id": again, "cancel": "deleted"}


def test_cancel_of_an_unknown_job_exits_1(rc_project: Project) -> None:
    proc = rc_project.run("job", "nope", "--cancel", ok=False)
    assert (proc.returncode, proc.stdout) == (1, "")
    assert proc.stderr == f"runa-runner: error: job 'nope': {NOT_KEPT}\n"


def test_cancel_stops_a_running_job_in_a_worker(rc_project: Project) -> None:
    p = rc_project
    job_id = p.push("hang", {})
    worker = p.start("main")
    p.wait_lines("hang.log", lambda lines: lines == [f"start {job_id} attempt 1"])
    proc = p.run("job", job_id, "--cancel")
    assert proc.stdout == (f"job {job_id} cancel requested: its run stops at its next "
                           "lease renewal\n")

    def settled() -> bool:
        state: Any = json.loads(p.run("job", job_id, "--json", ok=False).stdout or "{}")
        return state.get("state") == "failed"

    wait_for(settled, "the cancelled job to settle as failed")
    info = p.json("job", job_id)
    assert (info["error"], info["attempts"]) == ("cancelled", 1)  # retry 3: no retry
    assert p.lines("hang.log") == [f"start {job_id} attempt 1"]
    assert worker.proc.poll() is None  # the worker goes on serving


def test_amqp_cannot_keep_results_or_cancel(tmp_path: Path, amqp_url: str,
                                            require_service: Callable[[str], None]) -> None:
    tag = uuid.uuid4().hex[:8]
    driver = f'{{type: amqp, url: "{amqp_url}", prefix: "rc-{tag}.", exchange: "rc-{tag}"}}'
    p = Project(tmp_path, MANIFEST.format(driver=driver).replace(
        "retry: 3, retry_delay: 0s}", "retry: 3, retry_delay: 0s, result_ttl: 1m}"))
    tmp_path.joinpath("rc_handlers.py").write_text(HANDLERS, encoding="utf-8")
    proc = p.run("validate", "--no-import", ok=False)
    assert proc.returncode == 1
    [line] = [ln for ln in proc.stdout.splitlines() if "result_ttl" in ln]
    assert "queues.main.result_ttl: driver 'local' (type amqp) cannot do results " \
           "(result_ttl) (it lacks the 'results' capability)" in line

    require_service("amqp")
    (tmp_path / "plain").mkdir()
    plain = Project(tmp_path / "plain", MANIFEST.format(driver=driver))
    proc = plain.run("job", "0" * 26, "--cancel", ok=False)
    assert (proc.returncode, proc.stdout) == (1, "")
    assert proc.stderr.count("\n") == 1
    assert "cancel is not supported by driver 'local' (type amqp)" in proc.stderr
