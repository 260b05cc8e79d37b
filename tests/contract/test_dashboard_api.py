"""The dashboard's JSON API (DESIGN §12) over each driver, through the ASGI app: the
shapes of ``list --json`` and ``job --json``, pages by ``after``/``next``, bulk retry and
delete of failed jobs, the 400s and 404s, and "not available" where a driver cannot list.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

import runa_runner as rr
from runa_runner.drivers.base import Capability, Outcome

from .helpers import QUEUE, reserve_one

httpx = pytest.importorskip("httpx")
create_app = pytest.importorskip(
    "runa_runner.dashboard", reason="the dashboard extra is not installed").create_app

needs = pytest.mark.needs

QUEUE_KEYS = {"name", "driver", "workers", "pending", "delayed", "reserved", "failed",
              "paused", "oldest_pending_seconds"}
WORKER_KEYS = {"name", "queues", "concurrency", "instances", "processed", "succeeded",
               "failed", "retried"}


async def anything(job: rr.Job[Any]) -> None:
    return None


@contextlib.asynccontextmanager
async def client(reg: rr.Registry, **options: Any) -> AsyncIterator[Any]:
    transport = httpx.ASGITransport(app=create_app(reg, **options))
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as c:
        yield c


async def fail(reg: rr.Registry, count: int) -> list[str]:
    """Push ``count`` jobs and fail each (newest failure last)."""
    await reg.push_many("j", range(count))
    driver = await reg.queue_driver(QUEUE)
    failed = []
    for _ in range(count):
        r = await reserve_one(driver)
        outcome = Outcome(QUEUE, r.envelope.id, r.token, "fail", error="boom <b>",
                          traceback="TB")
        assert await driver.settle([outcome]) == [True]
        failed.append(r.envelope.id)
    return failed


async def post(c: Any, path: str, body: Any) -> Any:
    return await c.post(path, json=body)


@needs(Capability.COUNT)
async def test_queues_and_workers_are_the_objects_of_list_json(
    make_registry: Callable[..., rr.Registry],
) -> None:
    reg = make_registry(jobs={"j": anything})
    await reg.push_many("j", range(2))
    async with client(reg) as c:
        queues = (await c.get("/api/queues")).json()
        workers = (await c.get("/api/workers")).json()
    [row] = queues
    assert set(row) == QUEUE_KEYS
    assert (row["name"], row["pending"], row["failed"]) == (QUEUE, 2, 0)
    [info] = await reg.queue_info()
    assert {k: row[k] for k in QUEUE_KEYS - {"oldest_pending_seconds", "paused"}} == {
        "name": info.name, "driver": info.driver, "workers": info.workers,
        "pending": info.pending, "delayed": info.delayed, "reserved": info.reserved,
        "failed": info.failed}
    [pool] = workers
    assert set(pool) == WORKER_KEYS and pool["name"] == "w" and pool["queues"] == [QUEUE]


async def test_schedules_answer_a_list(make_registry: Callable[..., rr.Registry]) -> None:
    reg = make_registry(jobs={"j": anything})
    async with client(reg) as c:
        answer = await c.get("/api/schedules")
    assert answer.status_code == 200 and answer.json() == []


@needs(Capability.LIST)
async def test_a_job_is_the_object_of_job_json_and_an_unknown_one_is_404(
    make_registry: Callable[..., rr.Registry],
) -> None:
    reg = make_registry(jobs={"j": anything})
    job_id = await reg.push("j", {"to": "<img src=x onerror=alert(1)>"})
    async with client(reg) as c:
        found = await c.get(f"/api/jobs/{job_id}")
        missing = await c.get("/api/jobs/" + "0" * 26)
    info = await reg.job_info(job_id)
    assert info is not None and found.json() == info.to_dict()
    assert found.json()["payload"] == {"to": "<img src=x onerror=alert(1)>"}
    assert missing.status_code == 404
    assert missing.json() == {"error": f"unknown job '{'0' * 26}'"}


@needs(Capability.LIST_JOBS)
async def test_pages_follow_next_until_null_newest_first(
    make_registry: Callable[..., rr.Registry],
) -> None:
    reg = make_registry(jobs={"j": anything})
    ids = await reg.push_many("j", range(5))
    seen, after, pages = [], "", 0
    async with client(reg) as c:
        while True:
            answer = await c.get(f"/api/queues/{QUEUE}/jobs",
                                 params={"state": "pending", "limit": 2, "after": after})
            assert answer.status_code == 200
            page = answer.json()
            pages += 1
            assert set(page) == {"jobs", "next"}
            seen += [j["id"] for j in page["jobs"]]
            if page["next"] is None:
                break
            assert page["next"] == page["jobs"][-1]["id"]
            after = page["next"]
    assert pages == 3 and seen == sorted(ids, reverse=True)


@needs(Capability.LIST_JOBS)
async def test_bad_parameters_are_400_and_an_unknown_queue_404(
    make_registry: Callable[..., rr.Registry],
) -> None:
    reg = make_registry(jobs={"j": anything})
    async with client(reg) as c:
        bad_state = await c.get(f"/api/queues/{QUEUE}/jobs?state=reserved")
        limits = [await c.get(f"/api/queues/{QUEUE}/jobs?limit={n}")
                  for n in ("0", "1001", "-1", "ten")]
        unknown = await c.get("/api/queues/nope/jobs?state=failed")
        unknown_post = await post(c, "/api/queues/nope/failed/retry", {"all": True})
    assert bad_state.status_code == 400
    assert bad_state.json() == {"error": "state must be one of pending, delayed, failed, "
                                         "got 'reserved'"}
    for answer in limits:
        assert answer.status_code == 400
        assert answer.json()["error"].startswith("limit must be a whole number from 1 to 1000")
    assert (unknown.status_code, unknown.json()) == (404, {"error": "unknown queue 'nope'"})
    assert unknown_post.status_code == 404


@needs(Capability.LIST_JOBS, Capability.FAILED_STORE)
async def test_failed_pages_show_the_error(make_registry: Callable[..., rr.Registry]) -> None:
    reg = make_registry(jobs={"j": anything})
    failed = await fail(reg, 3)
    async with client(reg) as c:
        first = (await c.get(f"/api/queues/{QUEUE}/jobs?state=failed&limit=2")).json()
        rest = (await c.get(f"/api/queues/{QUEUE}/jobs",
                            params={"state": "failed", "limit": 2, "after": first["next"]})
                ).json()
    listed = [j["id"] for j in first["jobs"] + rest["jobs"]]
    assert sorted(listed) == sorted(failed) and rest["next"] is None
    assert {(j["state"], j["error"]) for j in first["jobs"]} == {("failed", "boom <b>")}


@needs(Capability.LIST, Capability.FAILED_STORE, Capability.DELETE, Capability.COUNT)
async def test_retry_and_delete_one_selected_and_all(
    make_registry: Callable[..., rr.Registry],
) -> None:
    reg = make_registry(jobs={"j": anything})
    a, b, *_ = await fail(reg, 4)
    async with client(reg) as c:
        one = await post(c, f"/api/queues/{QUEUE}/failed/retry", {"ids": [a]})
        gone = await post(c, f"/api/queues/{QUEUE}/failed/delete", {"ids": [b, "0" * 26]})
        state_a = (await c.get(f"/api/jobs/{a}")).json()["state"]
        state_b = (await c.get(f"/api/jobs/{b}")).status_code
        rest = await post(c, f"/api/queues/{QUEUE}/failed/retry", {"all": True})
        [row] = (await c.get("/api/queues")).json()
        await fail(reg, 2)
        purged = await post(c, f"/api/queues/{QUEUE}/failed/delete", {"all": True})
        [after] = (await c.get("/api/queues")).json()
    assert one.json() == {"count": 1} and state_a == "pending"
    assert gone.json() == {"count": 1} and state_b == 404
    assert rest.json() == {"count": 2}
    assert (row["pending"], row["failed"]) == (3, 0)
    assert purged.json() == {"count": 2} and after["failed"] == 0


async def test_bad_admin_bodies_are_400_or_415(make_registry: Callable[..., rr.Registry]) -> None:
    reg = make_registry(jobs={"j": anything})
    url = f"/api/queues/{QUEUE}/failed/retry"
    async with client(reg) as c:
        bodies = [await post(c, url, body) for body in (
            {}, {"all": False}, {"ids": "x"}, {"ids": [1]}, {"ids": ["x" * 201]},
            {"ids": ["a"] * 1001}, {"ids": [], "all": True}, [])]
        not_json = await c.post(url, content=b"{", headers={"content-type": "application/json"})
        plain = await c.post(url, content=b'{"all": true}', headers={"content-type": "text/plain"})
    for answer in [*bodies, not_json]:
        assert answer.status_code == 400, answer.text
        assert set(answer.json()) == {"error"}
    assert plain.status_code == 415


async def test_a_driver_that_cannot_list_says_so_not_an_empty_list(
    make_registry: Callable[..., rr.Registry], driver_capabilities: frozenset[Capability],
) -> None:
    if Capability.LIST_JOBS in driver_capabilities:
        pytest.skip("the driver lists jobs")
    reg = make_registry(jobs={"j": anything})
    async with client(reg) as c:
        answer = await c.get(f"/api/queues/{QUEUE}/jobs?state=pending")
        page = await c.get(f"/queues/{QUEUE}?state=pending")
    kind = reg.drivers["d"].type_name
    assert answer.status_code == 501
    assert answer.json() == {"error": f"listing pending jobs is not available on {kind} "
                                      f"(queue '{QUEUE}')"}
    assert page.status_code == 200 and f"not available on {kind}" in page.text
