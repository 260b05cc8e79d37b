"""Inspecting a half-down deployment: `list` and `job` with one driver unreachable.

The dead driver is a Redis URL on a port bound but never listening, so connecting is
refused at once (no timeout to wait out) and nothing else can take the port meanwhile.
Its queue is declared first so that every lookup reaches it before the live one.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from .conftest import Project

MANIFEST = """\
default_driver: local
drivers:
  local: {{type: sqlite, path: .runa/queue.db}}
  cache: {{type: redis, url: "redis://127.0.0.1:{port}/0", prefix: "runa-dead-driver-test:"}}
queues:
  fast: {{driver: cache, workers: [quick]}}
  main: {{workers: [main]}}
workers:
  quick: {{concurrency: 1}}
  main: {{concurrency: 2}}
jobs:
  note.fast: {{handler: "acc_handlers:record", queue: fast}}
  note.record: {{handler: "acc_handlers:record", queue: main}}
"""

WARNING = "runa-runner: warning: driver 'cache' unreachable: "


@pytest.fixture
def closed_port() -> Iterator[int]:
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))  # bound, not listening: connections are refused
        yield int(held.getsockname()[1])


@pytest.fixture
def half_down(tmp_path: Path, closed_port: int) -> Project:
    return Project(tmp_path, MANIFEST.format(port=closed_port))


def test_list_json_shows_live_queues_and_nulls_for_the_dead_driver(half_down: Project) -> None:
    half_down.push("note.record", {"text": "a"})

    proc = half_down.run("list", "--json")

    data = json.loads(proc.stdout)
    queues = {q["name"]: q for q in data["queues"]}
    assert queues["main"] == {"name": "main", "driver": "local", "workers": ["main"],
                              "pending": 1, "delayed": 0, "reserved": 0, "failed": 0,
                              "paused": False}
    assert queues["fast"] == {"name": "fast", "driver": "cache", "workers": ["quick"],
                              "pending": None, "delayed": None, "reserved": None,
                              "failed": None, "paused": None}
    workers = {w["name"]: w for w in data["workers"]}
    assert workers["main"] == {"name": "main", "queues": ["main"], "concurrency": 2,
                               "instances": 0, "processed": 0, "succeeded": 0, "failed": 0,
                               "retried": 0}
    assert workers["quick"] == {"name": "quick", "queues": ["fast"], "concurrency": 1,
                                "instances": None, "processed": None, "succeeded": None,
                                "failed": None, "retried": None}
    [line] = proc.stderr.splitlines()
    assert line.startswith(WARNING)
    assert "cannot reach redis://127.0.0.1:" in line


def test_list_table_shows_dashes_for_the_dead_driver(half_down: Project) -> None:
    half_down.push("note.record", {"text": "a"})

    proc = half_down.run("list")

    queue_table, worker_table = proc.stdout.split("\n\n")
    assert [line.split() for line in queue_table.splitlines()[1:]] == [
        ["fast", "cache", "quick", "-", "-", "-", "-"],
        ["main", "local", "main", "1", "0", "0", "0"],
    ]
    assert [line.split() for line in worker_table.splitlines()[1:]] == [
        ["quick", "fast", "1", "-", "-", "-", "-", "-"],
        ["main", "main", "2", "0", "0", "0", "0", "0"],
    ]
    assert [line[:len(WARNING)] for line in proc.stderr.splitlines()] == [WARNING]


def test_job_on_a_live_driver_is_found_past_a_dead_one(half_down: Project) -> None:
    job_id = half_down.push("note.record", {"text": "a"})

    proc = half_down.run("job", job_id, "--json")

    info = json.loads(proc.stdout)
    assert (info["id"], info["queue"], info["state"]) == (job_id, "main", "pending")


def test_job_missing_with_a_dead_driver_says_where_it_did_not_look(half_down: Project) -> None:
    proc = half_down.run("job", "nope", ok=False)

    assert (proc.returncode, proc.stdout) == (1, "")
    [line] = proc.stderr.splitlines()
    assert line.startswith("runa-runner: error: job 'nope' not found on the reachable drivers")
    assert "driver 'cache' unreachable" in line
    assert "unknown job" not in line


def test_job_missing_with_every_driver_live_is_still_unknown(tmp_path: Path) -> None:
    live = Project(tmp_path, MANIFEST.format(port=6379))

    proc = live.run("job", "nope", ok=False)

    assert (proc.returncode, proc.stdout) == (1, "")
    assert proc.stderr == ("runa-runner: error: job 'nope': unknown job (no such job, or it "
                           "succeeded and was not kept)\n")
