"""A poisoned Redis queue (issue 12): 1,000 valid jobs with 50 hostile stored records of
every kind mixed in. ``runa-runner work --burst`` runs every valid job exactly once,
moves the 50 to failed with a reason, exits 0 and prints no traceback; ``failed list``,
``job ID``, ``failed retry`` and ``failed delete`` handle them.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest

from runa_runner.job import new_id

from .harness import Project
from .inject import QUEUE, envelope

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

VALID = 1000
HOSTILE = 50


def _env(job_id: str, **fields: Any) -> str:
    data = json.loads(envelope("chaos.run", {"n": 1}, job_id))
    data.update(fields)
    return json.dumps(data)


#: kind -> (hash fields given the job id, text its failure reason must contain).
#: The hash starts sound (attempt 0, max 1, times now); "-" leaves a field out.
KINDS: dict[str, tuple[Callable[[str], dict[str, Any]], str]] = {
    "env not utf-8": (lambda i: {"env": b"\xff" + _env(i).encode()}, "not UTF-8"),
    "env random bytes": (lambda i: {"env": bytes(range(256))}, "not UTF-8"),
    "env not json": (lambda i: {"env": "{not json"}, "envelope is not JSON"),
    "env an array": (lambda i: {"env": f'["{i}"]'}, "not a JSON object"),
    "env nested 100k": (lambda i: {"env": _env(i).replace(
        '{"n": 1}', "[" * 100_000 + "]" * 100_000)}, "nested deeper than 64"),
    "attempt 1e400 in json": (lambda i: {"env": _env(i).replace(
        '"attempt": 0', '"attempt": 1e400')}, "out of range"),
    "max_retries 1e400 in json": (lambda i: {"env": _env(i).replace(
        '"max_retries": 0', '"max_retries": 1e400')}, "out of range"),
    "job of the wrong type": (lambda i: {"env": _env(i, job=5)}, "field 'job'"),
    "meta not an object": (lambda i: {"env": _env(i, meta=[1])}, "field 'meta'"),
    "queue elsewhere": (lambda i: {"env": _env(i, queue="other")}, "stored in queue"),
    "id elsewhere": (lambda i: {"env": _env(new_id())}, "but is stored as"),
    "attempt abc": (lambda i: {"attempt": "abc"}, "field 'attempt'"),
    "attempt 1e400": (lambda i: {"attempt": "1e400"}, "field 'attempt'"),
    "max missing": (lambda i: {"max": "-"}, "field 'max' is missing"),
    "max 1e400": (lambda i: {"max": "1e400"}, "field 'max'"),
    "env missing": (lambda i: {"env": "-"}, "field 'env' is missing"),
    "enq nan": (lambda i: {"enq": "nan"}, "field 'enq'"),
    "key not a hash": (lambda i: {}, "job key holds no hash"),
    "unknown job": (lambda i: {"env": json.dumps(json.loads(envelope("evil.unknown", 1, i)))},
                    "unknown job"),
    "payload refused": (lambda i: {"env": envelope("chaos.typed", {"n": "seven"}, i)},
                        "invalid payload"),
}


def inject(url: str, prefix: str, kinds: list[str]) -> dict[str, str]:
    """Write one hostile record per entry of ``kinds``; job id -> kind."""
    import redis

    tag = "{" + prefix + QUEUE + "}"
    client = redis.Redis.from_url(url)
    made: dict[str, str] = {}
    try:
        now = time.time()
        for kind in kinds:
            job_id = new_id()
            made[job_id] = kind
            key = f"{tag}:job:{job_id}"
            if kind == "key not a hash":
                client.set(key, "a string where a job hash belongs")
            else:
                fields: dict[str, Any] = {"env": _env(job_id), "attempt": 0, "max": 1,
                                          "enq": now, "avail": now, "state": "pending"}
                fields.update(KINDS[kind][0](job_id))
                client.hset(key, mapping={k: v for k, v in fields.items() if v != "-"})
            client.zadd(f"{tag}:ready", {job_id: now})
    finally:
        client.close()
    return made


def test_a_poisoned_queue_runs_every_valid_job_once_and_fails_the_rest(
    project_for: Callable[..., Project], redis_url: str
) -> None:
    project = project_for("redis", retry=3)
    order = sorted(KINDS)
    kinds = [order[i % len(order)] for i in range(HOSTILE)]
    valid = project.push_jsonl("chaos.run", [{"n": i} for i in range(VALID // 2)])
    hostile = inject(redis_url, f"chaos:{project.target.tag}:", kinds[:HOSTILE // 2])
    valid += project.push_jsonl("chaos.run", [{"n": i} for i in range(VALID // 2)])
    hostile |= inject(redis_url, f"chaos:{project.target.tag}:", kinds[HOSTILE // 2:])

    worked = project.run("work", "w", "--burst", timeout=240)
    assert "Traceback" not in worked.stderr

    runs = Counter(job_id for job_id, _ in project.runs())
    assert set(runs) == set(valid) and set(runs.values()) == {1}
    failed = {rec["id"]: rec["error"] for rec in json.loads(
        project.run("failed", "list", QUEUE, "--json").stdout)}
    assert set(failed) == set(hostile)
    for job_id, kind in hostile.items():
        assert KINDS[kind][1] in failed[job_id], (kind, failed[job_id])
    driver_found = [i for i, k in hostile.items() if k not in ("unknown job", "payload refused")]
    warned = [line for line in worked.stderr.splitlines() if "moved to failed" in line]
    assert sorted(w for line in warned for w in driver_found if w in line) == sorted(driver_found)
    assert len(warned) == len(driver_found)
    queue = project.queue()
    assert (queue["pending"], queue["reserved"], queue["failed"]) == (0, 0, HOSTILE)
    print(f"\npoison[redis]: {VALID} valid ran once each; {HOSTILE} hostile failed; "
          + "; ".join(sorted({failed[i][:60] for i in driver_found})[:5]))

    table = project.run("failed", "list", QUEUE)
    assert "<unreadable record>" in table.stdout and "Traceback" not in table.stderr
    shown_kinds = ("env not utf-8", "env nested 100k", "key not a hash", "max missing")
    for job_id in [i for i, k in hostile.items() if k in shown_kinds]:
        shown = project.run("job", job_id, "--json")
        assert json.loads(shown.stdout)["state"] == "failed"
    # A retry resets attempt (curing "attempt abc"); a broken envelope fails again.
    some = [i for i, k in hostile.items() if k.startswith("env")][:5]
    project.run("failed", "retry", QUEUE, *some)
    again = project.run("work", "w", "--burst", timeout=120)
    assert "Traceback" not in again.stderr
    assert project.queue()["failed"] == HOSTILE
    project.run("failed", "delete", QUEUE, *hostile)
    assert project.queue()["failed"] == 0
    assert "Traceback" not in "".join(project.outputs)
