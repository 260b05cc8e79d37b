"""Secrets stay secret and only declared handlers run.

A sentinel password is put in ``REDIS_URL`` and ``AMQP_URL`` (read by the manifest as
``${REDIS_URL}`` / ``${AMQP_URL}``), once pointing at ports where nothing listens and
once at the real servers, which refuse it. Every command a user would try is run, and
all their output (stdout and stderr, without ``--debug``) is searched for the sentinel.
"""

from __future__ import annotations

import json
import shutil
import signal
import sqlite3
import subprocess
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from runa_runner.job import new_id

EXE = shutil.which("runa-runner") or "runa-runner"
SENTINEL = "S3ntinel-pw"

MANIFEST = """\
drivers:
  r: {{type: redis, url: "${{REDIS_URL}}", prefix: "sec:{tag}:"}}
  a: {{type: amqp, url: "${{AMQP_URL}}", exchange: "sec-{tag}", prefix: "sec.{tag}."}}
queues:
  rq: {{driver: r, workers: [rw]}}
  aq: {{driver: a, workers: [aw]}}
workers:
  rw: {{poll_interval: 50ms}}
  aw: {{poll_interval: 50ms}}
jobs:
  r.job: {{handler: "sec_handlers:ok", queue: rq}}
  a.job: {{handler: "sec_handlers:ok", queue: aq}}
"""

COMMANDS = [
    ["validate"], ["validate", "--format", "json"], ["list"], ["list", "--json"],
    ["push", "r.job", "--json", "{}"], ["push", "a.job", "--json", "{}"],
    ["job", "0190f0c0a0b00000aaaaaaaaaa"], ["failed", "list", "rq"], ["failed", "list", "aq"],
    ["work", "rw", "--burst"], ["work", "aw", "--burst"],
]

#: Seconds a `work` command may take to say its driver is unavailable (or to exit).
WORK_WAIT = 30
#: Seconds a `work` command is still read after that line, before it is told to stop.
WORK_TAIL = 1.0


def run_one(folder: Path, env: dict[str, str], args: list[str]) -> str:
    """One command's stdout and stderr. `work` waits for a driver it cannot reach: it is
    read until its one "unavailable" line (which names the redacted URL), a little longer,
    then stopped with SIGTERM so that its stop lines are read too."""
    if args[0] != "work":
        proc = subprocess.run([EXE, *args], cwd=folder, env=env, capture_output=True,
                              text=True, timeout=40, check=False)
        return f"$ runa-runner {' '.join(args)} -> {proc.returncode}\n{proc.stdout}{proc.stderr}"
    work = subprocess.Popen([EXE, *args], cwd=folder, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    assert work.stdout is not None
    lines: list[str] = []
    said = threading.Event()

    def read() -> None:
        assert work.stdout is not None
        for line in work.stdout:
            lines.append(line)
            if "unavailable" in line or "error" in line:
                said.set()
        said.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    said.wait(WORK_WAIT)
    time.sleep(WORK_TAIL)  # what it says next, if anything, is read too
    if work.poll() is None:
        work.send_signal(signal.SIGTERM)
    try:
        code: object = work.wait(30)
    except subprocess.TimeoutExpired:
        work.kill()
        code = "killed"
    reader.join(10)
    work.stdout.close()
    return f"$ runa-runner {' '.join(args)} -> {code}\n{''.join(lines)}"


def run_all(folder: Path, env: dict[str, str]) -> list[str]:
    """Every command's output; the commands run side by side (each reads only)."""
    with ThreadPoolExecutor(max_workers=len(COMMANDS)) as pool:
        return list(pool.map(lambda args: run_one(folder, env, args), COMMANDS))


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    tmp_path.joinpath("jobs.yaml").write_text(MANIFEST.format(tag=uuid.uuid4().hex[:8]))
    shutil.copy(Path(__file__).with_name("sec_handlers.py"), tmp_path / "sec_handlers.py")
    return tmp_path


def base_env() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items()
            if k not in ("RUNA_CONFIG", "PYTHONPATH", "REDIS_URL", "AMQP_URL")}


#: How a password reaches a driver URL: userinfo, a ``?password=`` query parameter, and
#: userinfo with an unencoded ``#`` (which ends a URL's authority, so a naive parse
#: shows the whole URL). ``{s}`` is the sentinel, ``{host}`` host:port.
REDIS_FORMS = {
    "userinfo": "redis://:{s}@{host}/0",
    "query": "redis://{host}/0?password={s}",
    "hash": "redis://:{s}#{s}@{host}/0",
}
AMQP_FORMS = {
    "userinfo": "amqp://guest:{s}@{host}/",
    "query": "amqp://guest:{s}@{host}/?auth_token={s}&heartbeat=5",
    "hash": "amqp://guest:{s}#{s}@{host}/",
}


@pytest.mark.parametrize("form", sorted(REDIS_FORMS))
def test_unreachable_servers_never_show_the_password(folder: Path, form: str) -> None:
    env = {**base_env(), "REDIS_URL": REDIS_FORMS[form].format(s=SENTINEL, host="127.0.0.1:1"),
           "AMQP_URL": AMQP_FORMS[form].format(s=SENTINEL, host="127.0.0.1:1")}
    outputs = run_all(folder, env)
    joined = "\n".join(outputs)
    print(joined)
    assert SENTINEL not in joined
    assert "Traceback" not in joined
    if form == "hash":
        # Refused by the manifest check before any driver is built, naming the key.
        assert "drivers.r.url: invalid URL" in joined and "percent-encode" in joined
        return
    assert "***" in joined  # the redacted URL is shown, so the user knows where it looked
    assert "127.0.0.1:1" in joined  # ... and where: the host survives redaction


@pytest.mark.parametrize("form", ["userinfo", "query", "hash"])
def test_servers_refusing_the_password_never_show_it(
    folder: Path, require_service: Callable[[str], None], redis_url: str, amqp_url: str,
    form: str,
) -> None:
    require_service("redis")
    require_service("amqp")
    from urllib.parse import urlsplit

    redis_at, amqp_at = urlsplit(redis_url), urlsplit(amqp_url)
    redis_host = f"{redis_at.hostname}:{redis_at.port or 6379}"
    amqp_host = f"{amqp_at.hostname}:{amqp_at.port or 5672}"
    env = {**base_env(), "REDIS_URL": REDIS_FORMS[form].format(s=SENTINEL, host=redis_host),
           "AMQP_URL": AMQP_FORMS[form].format(s=SENTINEL, host=amqp_host)}
    outputs = run_all(folder, env)
    joined = "\n".join(outputs)
    print(joined)
    assert SENTINEL not in joined
    assert "Traceback" not in joined


SQLITE_MANIFEST = """\
default_driver: local
drivers:
  local: {type: sqlite, path: queue.db}
jobs:
  safe.job: {handler: "sec_handlers:ok"}
"""


def test_only_declared_handlers_can_run(tmp_path: Path) -> None:
    """Push refuses an undeclared job; a foreign envelope naming a module path fails as
    "unknown job" and the module is never imported."""
    tmp_path.joinpath("jobs.yaml").write_text(SQLITE_MANIFEST)
    here = Path(__file__).parent
    shutil.copy(here / "sec_handlers.py", tmp_path / "sec_handlers.py")
    shutil.copy(here / "evil_marker.py", tmp_path / "evil_marker.py")

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([EXE, *args], cwd=tmp_path, env=base_env(), capture_output=True,
                              text=True, timeout=60, check=False)

    refused = cli("push", "evil_marker:run", "--json", "{}")
    assert refused.returncode == 1
    assert refused.stdout == ""
    [line] = refused.stderr.splitlines()
    assert "unknown job 'evil_marker:run'" in line
    assert cli("push", "safe.job", "--json", "{}").returncode == 0  # creates the database

    job_id = new_id()
    now = time.time()
    with sqlite3.connect(tmp_path / "queue.db") as db:
        db.execute("INSERT INTO jobs (id, queue, job, state, envelope, available_at) "
                   "VALUES (?, 'default', 'evil_marker:run', 'pending', ?, ?)",
                   (job_id, json.dumps({"id": job_id, "queue": "default",
                                        "job": "evil_marker:run", "payload": {}}), now))
    db.close()
    worked = cli("work", "default", "--burst")
    assert worked.returncode == 0, worked.stderr
    failed = json.loads(cli("failed", "list", "default", "--json").stdout)
    assert [(f["id"], f["job"]) for f in failed] == [(job_id, "evil_marker:run")]
    assert "unknown job" in failed[0]["error"]
    assert not (tmp_path / "IMPORTED").exists()
