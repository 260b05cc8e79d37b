"""DESIGN.md section 7's builder snippet, run as written, on the SQLite driver (a file:
the unit tier does no I/O)."""

from __future__ import annotations

from pathlib import Path

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
