"""Stopping workers: SIGKILL (lease recovery), SIGTERM within/beyond stop_timeout, double SIGINT."""

from __future__ import annotations

import signal
import time

from .conftest import Project


def started(lines: list[str], tag: str) -> bool:
    return any(line.startswith(f"start {tag} ") for line in lines)


def test_sigkill_mid_job_then_another_worker_runs_it_after_the_lease(project: Project) -> None:
    job_id = project.push("nap", {"tag": "k", "seconds": 60, "only_first": True})
    first = project.start("patient")
    project.wait_lines("nap.log", lambda lines: started(lines, "k"))
    first.proc.kill()
    first.wait()

    second = project.start("patient")
    lines = project.wait_lines("nap.log", lambda lines: any("end k attempt 2" in x for x in lines))
    assert lines[0] == "start k attempt 1" and "end k attempt 1" not in "\n".join(lines)
    second.signal(signal.SIGTERM)
    assert second.wait() == 0
    assert project.run("job", job_id, ok=False).returncode == 1  # done and deleted


def test_sigterm_within_stop_timeout_finishes_the_job(project: Project) -> None:
    job_id = project.push("nap", {"tag": "t", "seconds": 1})
    worker = project.start("patient")
    project.wait_lines("nap.log", lambda lines: started(lines, "t"))

    worker.signal(signal.SIGTERM)
    assert worker.wait() == 0

    assert any(line.startswith("end t attempt 1") for line in project.lines("nap.log"))
    assert project.run("job", job_id, ok=False).returncode == 1
    assert any("SIGTERM received" in line for line in worker.stderr)
    assert any("worker patient stopped" in line for line in worker.stderr)


def test_sigterm_beyond_stop_timeout_releases_the_job_and_exits_1(project: Project) -> None:
    job_id = project.push("nap", {"tag": "b", "seconds": 60})
    worker = project.start("hasty")
    project.wait_lines("nap.log", lambda lines: started(lines, "b"))

    worker.signal(signal.SIGTERM)
    assert worker.wait() == 1

    info = project.json("job", job_id)
    assert (info["state"], info["attempts"]) == ("pending", 0)  # the attempt was given back
    stats = project.worker_stats("hasty")
    assert (stats["processed"], stats["instances"]) == (0, 0)
    assert any("stop_timeout" in line for line in worker.stderr)


def test_second_sigint_exits_130_at_once(project: Project) -> None:
    job_id = project.push("nap", {"tag": "i", "seconds": 60})
    worker = project.start("patient")  # stop_timeout 20s: only the second SIGINT ends it
    project.wait_lines("nap.log", lambda lines: started(lines, "i"))

    worker.signal(signal.SIGINT)
    worker.wait_line("SIGINT received")
    begun = time.monotonic()
    worker.signal(signal.SIGINT)
    assert worker.wait() == 130
    assert time.monotonic() - begun < 5
    assert project.json("job", job_id)["state"] == "pending"


def test_a_sync_handler_past_stop_timeout_does_not_hold_the_exit(project: Project) -> None:
    job_id = project.push("nap.sync", {"tag": "s", "seconds": 60})
    worker = project.start("hasty")
    project.wait_lines("nap.log", lambda lines: started(lines, "s"))

    begun = time.monotonic()
    worker.signal(signal.SIGTERM)
    assert worker.wait() == 1
    assert time.monotonic() - begun < 10
    assert project.json("job", job_id)["state"] == "pending"
