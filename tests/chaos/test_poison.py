"""Poison input: whatever a foreign producer writes, a worker fails it with a reason and
goes on; an oversize payload is refused at push with one clear line.

On each durable driver a worker in ``--burst`` mode must drain the good jobs around
the bad ones and exit 0: a crash or a stall fails the test.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from runa_runner.job import new_id

from .conftest import DRIVERS
from .harness import Project
from .inject import envelope, inject

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]

LIMIT = 1000
GOOD = 20


def poison() -> dict[str, tuple[str, str]]:
    """job id -> (raw body, text its failure reason must contain)."""
    ids = [new_id() for _ in range(4)]
    return {
        ids[0]: ("{not json at all", "not JSON"),
        ids[1]: (envelope("evil.unknown", {"n": 1}, ids[1]), "unknown job"),
        ids[2]: (envelope("chaos.typed", {"n": "seven"}, ids[2]), "invalid payload: n:"),
        ids[3]: (envelope("chaos.typed", {"n": 1, "pad": "x" * 5000}, ids[3]),
                 f"over queue 'chaos' limit of {LIMIT} bytes"),
    }


@pytest.mark.parametrize("kind", DRIVERS)
def test_poison_goes_to_failed_and_the_worker_goes_on(
    kind: str, project_for: Callable[..., Project], redis_url: str, amqp_url: str,
    postgres_url: str,
) -> None:
    project = project_for(kind, retry=3, queue_extra=f", max_payload_bytes: {LIMIT}")
    first = project.push_jsonl("chaos.typed", [{"n": i} for i in range(GOOD // 2)])
    bad = poison()
    inject(project, {job_id: body for job_id, (body, _) in bad.items()}, redis_url, amqp_url,
           postgres_url)
    later = project.push_jsonl("chaos.typed", [{"n": i} for i in range(GOOD // 2)])

    worked = project.run("work", "w", "--burst", timeout=60)
    assert "Traceback" not in worked.stderr

    ran = {job_id for job_id, _ in project.runs()}
    assert ran == set(first + later)
    failed = {rec["id"]: rec for rec in json.loads(
        project.run("failed", "list", "chaos", "--json").stdout)}
    print(f"\npoison[{kind}]: " + "; ".join(f"{rec['error']}" for rec in failed.values()))
    assert len(failed) == len(bad)
    for job_id, (_, reason) in bad.items():
        if job_id in failed:
            error = failed[job_id]["error"]
        else:  # a body too broken to carry its id is listed under the one the driver gave it
            error = next(r["error"] for i, r in failed.items() if i not in bad)
        assert reason in error, (reason, error)
    queue = project.queue()
    assert queue["pending"] == 0 and queue["failed"] == len(bad)


@pytest.mark.parametrize("kind", DRIVERS)
def test_oversize_payload_is_refused_at_push(
    kind: str, project_for: Callable[..., Project]
) -> None:
    project = project_for(kind, queue_extra=f", max_payload_bytes: {LIMIT}")
    refused = project.run("push", "chaos.typed", "--json",
                          json.dumps({"n": 1, "pad": "x" * LIMIT}), ok=False)
    assert refused.returncode == 1
    assert refused.stdout == ""
    [line] = refused.stderr.splitlines()
    assert f"over queue 'chaos' limit of {LIMIT} bytes" in line
    assert line.startswith("chaos.typed: ")
    queue = project.queue()
    assert queue["pending"] == 0
