"""The read API over a half-down deployment: the dead driver's values are None and
``down`` names it; no read raises, and the live driver still answers.

The dead driver is Redis on a port bound but never listening (connecting is refused at
once); the live one is SQLite.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import runa_runner as rr

pytest.importorskip("redis")


async def anything(job: rr.Job[Any]) -> None:
    return None


@pytest.fixture
def closed_port() -> Iterator[int]:
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))  # bound, not listening: connections are refused
        yield int(held.getsockname()[1])


@pytest.fixture
def half_down(tmp_path: Path, closed_port: int) -> rr.Registry:
    from runa_runner.drivers.redis import RedisDriver

    reg = rr.Registry()
    reg.driver("cache", RedisDriver(f"redis://127.0.0.1:{closed_port}/0", prefix="runa-x:"))
    reg.driver("local", rr.drivers.SQLiteDriver(tmp_path / "queue.db"))
    reg.worker("w", poll_interval=0.01)
    reg.queue("fast", driver="cache", workers=["w"])
    reg.queue("main", driver="local", workers=["w"])
    reg.job("j", anything, queue="main")
    return reg.freeze()


async def test_reads_give_nulls_for_the_dead_driver_and_go_on(half_down: rr.Registry) -> None:
    job_id = await half_down.push("j", 1)
    api = half_down.inspector()
    fast, main = await api.queues()
    assert (fast.name, fast.pending, fast.failed) == ("fast", None, None)
    assert (main.name, main.pending) == ("main", 1)
    assert list(api.down) == ["cache"]
    [worker] = await api.workers()  # its counters live on the first queue's driver: dead
    assert (worker.name, worker.processed) == ("w", None)
    info = await api.job(job_id)
    assert info is not None and info.queue == "main"
    assert await api.oldest_due_ages() == {"fast": None, "main": pytest.approx(0, abs=30)}
    page = await api.jobs("fast", "pending")
    assert (page.jobs, page.next) == ([], None)
    await half_down.close()


async def test_the_registry_calls_share_that_tolerance(half_down: rr.Registry) -> None:
    infos = await half_down.queue_info()
    assert [q.pending for q in infos] == [None, 0]
    assert await half_down.job_info("0" * 26) is None
    await half_down.close()


async def test_admin_on_the_dead_driver_raises_one_clear_error(half_down: rr.Registry) -> None:
    with pytest.raises(rr.DriverUnavailable, match=r"127\.0\.0\.1"):
        await half_down.inspector().retry_failed("fast")
    await half_down.close()
