"""``runa-runner push`` at the door: what it refuses, what it imports, how it stops.

- a payload no stored job could hold (too deep, a lone surrogate, an integer Python
  cannot convert) is one line, exit 1, nothing stored; ``--jsonl`` checks every line
  (type, encoding, depth, the queue's size limit) before the first job is stored;
- a driver that fails in the middle of a bulk push (a full Redis) leaves the ids it
  stored on stdout and one line saying how many of how many, and where it stopped;
- push imports only the job's handler and its queue's push middleware (a producer host
  may not have the worker code), ``--no-import`` none;
- a push middleware that raises is one line (a traceback only with ``--debug``).
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from .conftest import EXE, Project, environment, wait_for

MANIFEST = """\
default_driver: local
drivers:
  local: {type: sqlite, path: .runa/queue.db}
queues:
  main: {workers: [main], middleware: ["producer_mw:stamp"]}
  small: {workers: [main], max_payload_bytes: 100}
  heavy: {workers: [main]}
  guarded: {workers: [main], middleware: ["producer_mw:boom"]}
workers:
  main: {poll_interval: 50ms, middleware: ["worker_only:around"]}
jobs:
  mail.send: {handler: "light:send", queue: main}
  raw: {handler: "light:raw", queue: main}
  raw.small: {handler: "light:raw", queue: small}
  report.build: {handler: "worker_only:build", queue: heavy}
  other: {handler: "marker:handler", queue: heavy}
  guarded: {handler: "light:raw", queue: guarded}
"""

LIGHT = """\
from pydantic import BaseModel
from runa_runner import Job

class Mail(BaseModel):
    to: str

async def send(job: Job[Mail]) -> None:
    pass

async def raw(job) -> None:
    pass
"""

PRODUCER_MW = """\
from pathlib import Path

async def stamp(envelope, call_next):
    Path(__file__).with_name("stamped").touch()
    return await call_next(envelope)

async def boom(envelope, call_next):
    raise RuntimeError("no push today")
"""

#: Imported only by a worker: creates a file when imported, so a test can see it was not.
MARKER = """\
from pathlib import Path
Path(__file__).with_name("MARKER_IMPORTED").touch()

async def handler(job) -> None:
    pass
"""

#: The worker's code, absent from the producer's host until a test adds it.
WORKER_ONLY = """\
from pathlib import Path
from pydantic import BaseModel
from runa_runner import Job

class Report(BaseModel):
    pages: int

async def build(job: Job[Report]) -> None:
    Path(__file__).with_name("built").write_text(str(job.payload.pages))

async def around(job, call_next):
    return await call_next(job)
"""


@pytest.fixture
def producer(tmp_path: Path) -> Iterator[Project]:
    """A producer's folder: the manifest and light modules, without worker_only.py."""
    project = Project(tmp_path, MANIFEST)
    for name, text in (("light", LIGHT), ("producer_mw", PRODUCER_MW), ("marker", MARKER)):
        (tmp_path / f"{name}.py").write_text(text, encoding="utf-8")
    yield project
    for worker in project.workers:
        worker.close()


def pending(project: Project, queue: str) -> int:
    count: int = project.queue(queue)["pending"]
    return count


def one_error_line(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    [line] = proc.stderr.splitlines()
    return line


# ---- finding 7: payloads no stored job could hold ----------------------------------

DEEP = "[" * 100_000 + "]" * 100_000


TOO_DEEP = "runa-runner: error: --json: payload is nested deeper than 63 levels"


@pytest.mark.parametrize(("text", "says"), [
    (DEEP, TOO_DEEP),
    ("[" * 64 + "]" * 64, TOO_DEEP),
    ('{"s": "\\ud800"}', "raw: payload is not valid UTF-8: lone surrogate '\\ud800' at "
                        "character 6"),
    ("1" * 5000, "runa-runner: error: --json: invalid JSON: an integer of more than 4300 digits"),
], ids=["100000-deep", "64-deep", "lone-surrogate", "5000-digits"])
def test_a_payload_no_stored_job_could_hold_is_one_line(
    producer: Project, text: str, says: str
) -> None:
    proc = producer.run("push", "raw", "--json", "-", stdin=text, ok=False)
    assert one_error_line(proc) == says
    assert proc.stdout == ""
    assert pending(producer, "main") == 0


def test_the_deepest_payload_allowed_is_pushed_and_runs(producer: Project) -> None:
    job_id = producer.run("push", "raw", "--json", "[" * 63 + "]" * 63).stdout.strip()
    (producer.root / "worker_only.py").write_text(WORKER_ONLY, encoding="utf-8")
    producer.run("work", "main", "--burst")
    assert producer.run("job", job_id, ok=False).returncode == 1  # ran and was deleted
    assert producer.json("failed", "list", "main") == []


def test_jsonl_checks_every_line_before_storing_the_first(producer: Project) -> None:
    good = "".join(json.dumps({"n": i}) + "\n" for i in range(600))
    bad = ['{"s": "\\ud800"}', DEEP, json.dumps({"n": "x" * 200}), "1" * 5000]
    proc = producer.run("push", "raw.small", "--jsonl", "-", stdin=good + "\n".join(bad),
                        ok=False)
    assert proc.returncode == 1
    assert proc.stdout == ""
    assert proc.stderr.splitlines() == [
        "line 601: raw.small: payload is not valid UTF-8: lone surrogate '\\ud800' at character 6",
        "line 602: payload is nested deeper than 63 levels",
        "line 603: raw.small: payload is 208 bytes, over queue 'small' limit of 100 bytes",
        "line 604: invalid JSON: an integer of more than 4300 digits",
    ]
    assert pending(producer, "small") == 0


def test_meta_that_is_not_utf8_is_one_line_and_stores_nothing(producer: Project) -> None:
    # A byte that is not UTF-8 in argv reaches Python as a lone surrogate.
    for source in (["--json", "{}"], ["--jsonl", "-"]):
        proc = producer.run("push", "raw", *source, "--meta", "k=\udcff", stdin="{}\n{}\n",
                            ok=False)
        assert one_error_line(proc) == (
            "runa-runner: error: push of 'raw': meta or unique key is not valid UTF-8: "
            "lone surrogate '\\udcff'")
    assert pending(producer, "main") == 0


# ---- finding 7: the driver fails in the middle of a bulk push ----------------------

@pytest.fixture
def tiny_redis(tmp_path: Path) -> Iterator[str]:
    """A private redis-server (never the shared one) that refuses writes past 2 MB."""
    exe = shutil.which("redis-server")
    if exe is None:
        pytest.skip("redis-server is not installed")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = subprocess.Popen(
        [exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--maxmemory", "2mb", "--maxmemory-policy", "noeviction", "--dir", str(tmp_path)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: answers(port), f"redis-server on port {port}")
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.kill()
        proc.wait(10)


def answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def test_a_full_redis_midway_prints_the_stored_ids_and_where_it_stopped(
    tmp_path: Path, tiny_redis: str
) -> None:
    tmp_path.joinpath("jobs.yaml").write_text(
        f'drivers:\n  r: {{type: redis, url: "{tiny_redis}", prefix: "oom:"}}\n'
        "workers:\n  w: {}\nqueues:\n  q: {driver: r, workers: [w]}\n"
        'jobs:\n  raw: {handler: "light:raw", queue: q}\n')
    tmp_path.joinpath("light.py").write_text(LIGHT, encoding="utf-8")
    total = 6000
    lines = "".join(json.dumps({"n": i, "pad": "x" * 300}) + "\n" for i in range(total))
    proc = subprocess.run([EXE, "push", "raw", "--jsonl", "-"], input=lines, cwd=tmp_path,
                          env=environment(), capture_output=True, text=True, timeout=120,
                          check=False)
    ids = proc.stdout.split()
    stored = len(ids)
    assert proc.returncode == 1, proc.stderr
    assert 0 < stored < total and stored % 500 == 0, stored
    [line] = proc.stderr.splitlines()
    assert line.startswith(
        f"runa-runner: error: push stopped at line {stored + 1}: {stored} of {total} jobs "
        f"stored (their ids are on stdout); the batch from line {stored + 1} on may be "
        "partly stored: redis driver: redis://127.0.0.1:")
    assert "maxmemory" in line
    project = Project(tmp_path, None)
    for job_id in (ids[0], ids[-1]):
        assert project.json("job", job_id)["state"] == "pending"
    assert stored <= pending(project, "q") < stored + 500


# ---- finding 15: push imports only what the pushed job needs -----------------------

def test_push_imports_only_the_jobs_handler_and_its_queues_middleware(
    producer: Project,
) -> None:
    job_id = producer.push("mail.send", {"to": "a@b.c"})
    assert len(job_id) == 26
    assert (producer.root / "stamped").exists()  # the queue's push middleware ran
    assert not (producer.root / "MARKER_IMPORTED").exists()  # another job's handler
    refused = producer.run("push", "mail.send", "--json", '{"nope": 1}', ok=False)
    assert refused.stderr.splitlines() == ["mail.send: to: Field required"]  # type checked


def test_a_handler_the_producer_lacks_is_one_line_suggesting_no_import(
    producer: Project,
) -> None:
    proc = producer.run("push", "report.build", "--json", '{"pages": 3}', ok=False)
    assert one_error_line(proc) == (
        "runa-runner: error: jobs.yaml:15:27: jobs.report.build.handler: cannot import module "
        "'worker_only': ModuleNotFoundError: No module named 'worker_only'; to push without "
        "importing it (the worker checks the payload when the job runs), use push --no-import")
    assert pending(producer, "heavy") == 0


def test_no_import_pushes_unchecked_json_that_the_worker_validates(producer: Project) -> None:
    good = producer.run("push", "report.build", "--no-import", "--json", '{"pages": 3}')
    bad = producer.run("push", "report.build", "--no-import", "--json", '{"pages": "many"}')
    stamped = producer.run("push", "mail.send", "--no-import", "--json", '{"nope": 1}')
    assert not (producer.root / "stamped").exists()  # --no-import: no push middleware
    assert not (producer.root / "MARKER_IMPORTED").exists()
    # The worker's host has the code: it validates each payload when the job runs.
    (producer.root / "worker_only.py").write_text(WORKER_ONLY, encoding="utf-8")
    producer.run("work", "main", "--burst")
    assert (producer.root / "built").read_text() == "3"
    failed = {f["id"]: f for f in producer.json("failed", "list", "heavy")}
    assert list(failed) == [bad.stdout.strip()]
    assert "pages" in failed[bad.stdout.strip()]["error"]
    [mail] = producer.json("failed", "list", "main")
    assert mail["id"] == stamped.stdout.strip() and "to" in mail["error"]
    assert good.stdout.strip() not in failed


def test_push_help_documents_no_import() -> None:
    proc = subprocess.run([EXE, "push", "--help"], capture_output=True, text=True, timeout=60,
                          env=environment(), check=True)
    assert "--no-import" in proc.stdout
    assert "the worker validates it when the job runs" in " ".join(proc.stdout.split())


# ---- finding 16: a push middleware that raises -------------------------------------

def test_a_failing_push_middleware_is_one_line(producer: Project) -> None:
    says = ("runa-runner: error: push middleware 'producer_mw:boom' failed: "
            "RuntimeError: no push today")
    one = producer.run("push", "guarded", "--json", "{}", ok=False)
    assert one_error_line(one) == says
    bulk = producer.run("push", "guarded", "--jsonl", "-", stdin="{}\n{}\n", ok=False)
    assert one_error_line(bulk) == says
    debug = producer.run("push", "guarded", "--json", "{}", "--debug", ok=False)
    assert debug.returncode == 1
    assert "Traceback" in debug.stderr and "RuntimeError: no push today" in debug.stderr
    assert pending(producer, "guarded") == 0


def test_an_unreachable_driver_behind_a_push_middleware_is_the_drivers_one_line(
    tmp_path: Path,
) -> None:
    tmp_path.joinpath("jobs.yaml").write_text(
        'drivers:\n  r: {type: redis, url: "redis://127.0.0.1:1/0", socket_connect_timeout: 1}\n'
        "workers:\n  w: {}\n"
        'queues:\n  q: {driver: r, workers: [w], middleware: ["producer_mw:stamp"]}\n'
        'jobs:\n  raw: {handler: "light:raw", queue: q}\n')
    for name, text in (("light", LIGHT), ("producer_mw", PRODUCER_MW)):
        (tmp_path / f"{name}.py").write_text(text, encoding="utf-8")
    proc = Project(tmp_path, None).run("push", "raw", "--json", "{}", ok=False)
    line = one_error_line(proc)
    assert line.startswith("runa-runner: error: redis driver: cannot reach redis://127.0.0.1:1/0")
    assert "middleware" not in line
