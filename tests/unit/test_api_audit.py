"""The Python API as DESIGN.md section 7 shows it, run as a user would write it."""

from __future__ import annotations

from pathlib import Path

import pytest

import runa_runner as rr


async def test_design_builder_snippet_runs_a_job_pushed_to_its_queue(tmp_path: Path) -> None:
    # Verbatim shape of DESIGN.md section 7: the job is registered without queue=, and only
    # a queue "mail" exists; like the seed's Job[T], it is pushed to a queue by name.
    seen: list[tuple[str, object]] = []

    async def send_email(job: rr.Job[dict[str, str]]) -> None:
        seen.append((job.queue, job.payload))

    r = rr.Registry()
    r.driver("local", rr.drivers.SQLiteDriver(tmp_path / "queue.db"))
    r.queue("mail", driver="local", workers=["default"])
    r.worker("default", concurrency=1, poll_interval=0.01)
    r.job("mail.send", send_email)
    r.freeze()
    try:
        await r.push("mail.send", {"to": "a@b.c"}, queue="mail")
        await rr.Unit(r, "default").run(burst=True)
    finally:
        await r.close()
    assert seen == [("mail", {"to": "a@b.c"})]


async def test_push_without_a_queue_and_no_default_queue_says_so() -> None:
    r = rr.Registry()
    r.queue("mail")
    r.job("mail.send", lambda job: None)
    r.freeze()
    with pytest.raises(rr.UnknownName, match=r"job 'mail\.send' has no queue.*queue="):
        await r.push("mail.send", {})
    assert await r.queue_info() == [rr.QueueInfo("mail", "memory", ["default"], 0, 0, 0, 0)]


def test_an_explicit_unknown_queue_still_fails_freeze() -> None:
    r = rr.Registry()
    r.queue("mail")
    r.job("mail.send", lambda job: None, queue="mial")
    with pytest.raises(rr.ConfigError, match=r"unknown queue 'mial' \(did you mean 'mail'\?\)"):
        r.freeze()


def test_job_without_queue_binds_default_when_it_exists() -> None:
    r = rr.Registry()
    r.job("a", lambda job: None)
    r.freeze()
    assert r.jobs["a"].queue == "default"
    assert list(r.queues) == ["default"] and r.queues["default"].workers == ("default",)
    assert list(r.workers) == ["default"] and "memory" in r.drivers
