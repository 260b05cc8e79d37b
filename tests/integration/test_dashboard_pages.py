"""The dashboard's HTML pages over SQLite (and a Redis that does not answer): tabs and
paging by id, actions on the selected jobs, clear 400/404 pages, an unreachable driver
said in place of its numbers and lists."""

from __future__ import annotations

import contextlib
import re
import socket
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

import runa_runner as rr
from runa_runner.drivers.base import Outcome

httpx = pytest.importorskip("httpx")
create_app = pytest.importorskip(
    "runa_runner.dashboard", reason="the dashboard extra is not installed").create_app

QUEUE = "mail"


async def anything(job: rr.Job[Any]) -> None:
    return None


@pytest.fixture
def closed_port() -> Iterator[int]:
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))  # bound, never listening: connections are refused
        yield int(held.getsockname()[1])


@pytest.fixture
async def registry(tmp_path: Path, closed_port: int) -> AsyncIterator[rr.Registry]:
    from runa_runner.drivers.redis import RedisDriver

    reg = rr.Registry().driver("local", rr.drivers.SQLiteDriver(str(tmp_path / "q.db")))
    reg.driver("dead", RedisDriver(f"redis://127.0.0.1:{closed_port}/0",
                                   prefix="runa-dash-dead:"))
    reg.worker("w").queue(QUEUE, driver="local", workers=["w"])
    reg.queue("gone", driver="dead", workers=["w"])
    reg.job("j", anything, queue=QUEUE).freeze()
    yield reg
    await reg.close()


@contextlib.asynccontextmanager
async def client(reg: rr.Registry) -> AsyncIterator[Any]:
    transport = httpx.ASGITransport(app=create_app(reg))
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as c:
        yield c


async def fail_all(reg: rr.Registry, count: int) -> list[str]:
    await reg.push_many("j", range(count))
    driver = await reg.queue_driver(QUEUE)
    reserved = await driver.reserve(QUEUE, count, 30)
    await driver.settle([Outcome(QUEUE, r.envelope.id, r.token, "fail", error="boom")
                         for r in reserved])
    return [r.envelope.id for r in reserved]


def row_ids(page: str) -> list[str]:
    return re.findall(r'<tr data-id="([^"]+)">', page)


async def test_a_queue_page_pages_by_id_newest_first(registry: rr.Registry) -> None:
    ids = await registry.push_many("j", range(5))
    seen: list[str] = []
    async with client(registry) as c:
        url = f"/queues/{QUEUE}?state=pending&limit=2"
        while url:
            page = await c.get(url)
            assert page.status_code == 200
            seen += row_ids(page.text)
            older = re.search(r'href="([^"]+)" rel="next"', page.text)
            url = older.group(1).replace("&amp;", "&") if older else ""
    assert seen == sorted(ids, reverse=True)
    assert 'aria-current="page">pending <span class="count" data-state="pending">5' in page.text


async def test_retry_and_delete_the_selected_from_the_page(registry: rr.Registry) -> None:
    a, b, c_, d = await fail_all(registry, 4)
    async with client(registry) as c:
        page = await c.get(f"/queues/{QUEUE}?state=failed")
        token = re.search(r'name="csrf" value="([0-9a-f]+)"', page.text)
        assert token is not None and sorted(row_ids(page.text)) == sorted([a, b, c_, d])
        form = {"csrf": token.group(1), "ids": [a, b]}
        retried = await c.post(f"/queues/{QUEUE}/failed/retry", data=form)
        form = {"csrf": token.group(1), "ids": [c_, "0" * 26]}
        deleted = await c.post(f"/queues/{QUEUE}/failed/delete", data=form)
        after = await c.get(retried.headers["location"])
        nothing = await c.post(f"/queues/{QUEUE}/failed/retry", data={"csrf": token.group(1)})
    assert retried.headers["location"] == f"/queues/{QUEUE}?state=failed&done=retry&count=2"
    assert deleted.headers["location"].endswith("done=delete&count=1")
    assert row_ids(after.text) == [d] and "2 jobs retried" in after.text
    assert [(await registry.job_info(i)).state for i in (a, b)] == ["pending", "pending"]
    assert await registry.job_info(c_) is None
    assert nothing.status_code == 400 and "no job selected" in nothing.text


async def test_bad_requests_get_a_clear_page(registry: rr.Registry) -> None:
    async with client(registry) as c:
        state = await c.get(f"/queues/{QUEUE}?state=reserved")
        limit = await c.get(f"/queues/{QUEUE}?limit=5000")
        queue = await c.get("/queues/nope")
        job = await c.get("/jobs/" + "0" * 26)
    assert state.status_code == 400
    assert "state must be one of pending, delayed, failed" in state.text
    assert limit.status_code == 400 and "limit must be a whole number from 1 to 1000" in limit.text
    assert queue.status_code == 404 and "unknown queue &#39;nope&#39;" in queue.text
    # the dead driver may hold it: not "unknown", but not found where we could look
    assert job.status_code == 503 and "not found on the reachable drivers" in job.text


async def test_an_unreachable_driver_is_said_not_shown_as_empty(registry: rr.Registry) -> None:
    await registry.push("j", 1)
    async with client(registry) as c:
        overview = await c.get("/")
        page = await c.get("/queues/gone?state=pending")
        api = await c.get("/api/queues/gone/jobs")
        queues = {q["name"]: q for q in (await c.get("/api/queues")).json()}
    assert overview.status_code == 200
    assert "driver 'dead' unreachable: redis driver: cannot reach" in overview.text
    assert page.status_code == 200 and "driver &#39;dead&#39; unreachable" in page.text
    assert row_ids(page.text) == []
    assert api.status_code == 503 and api.json()["error"].startswith("driver 'dead' unreachable")
    assert queues["gone"]["pending"] is None and queues[QUEUE]["pending"] == 1


async def test_schedules_show_their_next_slot(tmp_path: Path) -> None:
    if not hasattr(rr.Registry, "schedule"):
        pytest.skip("schedules (DESIGN §10) are not in this version")
    reg = rr.Registry().driver("local", rr.drivers.SQLiteDriver(str(tmp_path / "q.db")))
    reg.worker("w").queue(QUEUE, driver="local", workers=["w"]).job("j", anything, queue=QUEUE)
    reg.schedule("tick", "j", every=900).schedule("nightly", "j", cron="0 2 * * *",
                                                   timezone="Europe/Berlin")
    reg.freeze()
    try:
        async with client(reg) as c:
            rows = {r["name"]: r for r in (await c.get("/api/schedules")).json()}
            page = await c.get("/schedules")
            overview = await c.get("/")
    finally:
        await reg.close()
    assert rows["tick"]["job"] == "j" and rows["tick"]["when"] == "every 15m"
    assert rows["nightly"]["timezone"] == "Europe/Berlin"
    assert rows["tick"]["next"] is not None and rows["tick"]["last_slot"] is None
    for html in (page.text, overview.text):
        assert "<td>nightly</td>" in html and rows["nightly"]["next"] in html


async def test_a_schedule_on_an_unreachable_driver_keeps_its_row(
    tmp_path: Path, closed_port: int,
) -> None:
    from runa_runner.drivers.redis import RedisDriver

    reg = rr.Registry().driver("local", rr.drivers.SQLiteDriver(str(tmp_path / "q.db")))
    reg.driver("dead", RedisDriver(f"redis://127.0.0.1:{closed_port}/0", prefix="runa-dd:"))
    reg.worker("w").queue(QUEUE, driver="local", workers=["w"])
    reg.queue("gone", driver="dead", workers=["w"]).job("j", anything, queue=QUEUE)
    reg.schedule("away", "j", every=60, queue="gone").schedule("here", "j", every=60)
    reg.freeze()
    try:
        async with client(reg) as c:
            rows = {r["name"]: r for r in (await c.get("/api/schedules")).json()}
            page = await c.get("/schedules")
    finally:
        await reg.close()
    assert set(rows) == {"away", "here"} and rows["away"]["next"] is not None
    assert page.status_code == 200
    assert "last fires unknown: driver &#39;dead&#39; unreachable" in page.text
