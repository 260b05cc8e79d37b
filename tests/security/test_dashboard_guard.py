"""The dashboard's safety (DESIGN §12): token (bearer or login cookie), read-only,
CSRF on forms and on JSON POSTs, DNS-rebinding refusal, escaping of hostile data."""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

import runa_runner as rr
from runa_runner.drivers.base import Outcome

httpx = pytest.importorskip("httpx")
create_app = pytest.importorskip(
    "runa_runner.dashboard", reason="the dashboard extra is not installed").create_app
LoopbackHosts = pytest.importorskip("runa_runner.dashboard.hosts").LoopbackHosts

QUEUE = "mail"
HOSTILE = "<img src=x onerror=alert(1)>"
TOKEN = "s3cret-token"
BASE = "http://127.0.0.1"


async def anything(job: rr.Job[Any]) -> None:
    return None


@pytest.fixture
async def registry(tmp_path: Path) -> AsyncIterator[rr.Registry]:
    reg = rr.Registry().driver("local", rr.drivers.SQLiteDriver(str(tmp_path / "q.db")))
    reg.worker("w").queue(QUEUE, driver="local", workers=["w"])
    reg.queue("<script>alert(2)</script>", driver="local", workers=["w"])
    reg.job("j", anything, queue=QUEUE).freeze()
    yield reg
    await reg.close()


async def failed_job(reg: rr.Registry, payload: Any = None, error: str = "boom") -> str:
    job_id = await reg.push("j", payload)
    driver = await reg.queue_driver(QUEUE)
    [r] = await driver.reserve(QUEUE, 1, 30)
    assert r.envelope.id == job_id
    assert await driver.settle([Outcome(QUEUE, job_id, r.token, "fail", error=error,
                                        traceback=f"Traceback\n{error}")]) == [True]
    return job_id


@contextlib.asynccontextmanager
async def client(app: Any, **headers: str) -> AsyncIterator[Any]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE,
                                 headers=headers) as c:
        yield c


def csrf_of(page: str) -> str:
    found = re.search(r'name="csrf" value="([0-9a-f]+)"', page)
    assert found, "no CSRF field in the page"
    return found.group(1)


async def state(reg: rr.Registry, job_id: str) -> str | None:
    info = await reg.job_info(job_id)
    return None if info is None else info.state


# ---- read-only ------------------------------------------------------------------------

async def test_read_only_refuses_every_post_with_403_and_still_reads(
    registry: rr.Registry,
) -> None:
    job_id = await failed_job(registry)
    async with client(create_app(registry, read_only=True)) as c:
        page = await c.get(f"/queues/{QUEUE}?state=failed")
        answers = [
            await c.post(f"/api/queues/{QUEUE}/failed/retry", json={"all": True}),
            await c.post(f"/api/queues/{QUEUE}/failed/delete", json={"ids": [job_id]}),
            await c.post(f"/queues/{QUEUE}/failed/retry",
                         data={"csrf": "x", "one": job_id}),
            await c.post(f"/queues/{QUEUE}/failed/delete", data={"all": "1"}),
        ]
        reads = [await c.get(p) for p in ("/", "/api/queues", f"/api/jobs/{job_id}")]
    assert [a.status_code for a in answers] == [403] * 4
    assert answers[0].json() == {"error": "this dashboard is read-only"}
    assert [r.status_code for r in reads] == [200] * 3
    assert page.status_code == 200 and "Retry all" not in page.text
    assert await state(registry, job_id) == "failed"


# ---- token ----------------------------------------------------------------------------

async def test_with_a_token_every_request_needs_it(registry: rr.Registry) -> None:
    app = create_app(registry, token=TOKEN)
    async with client(app) as c:
        api = await c.get("/api/queues")
        page = await c.get("/")
        post = await c.post(f"/api/queues/{QUEUE}/failed/retry", json={"all": True})
        wrong = await c.get("/api/queues", headers={"authorization": "Bearer nope"})
        good = await c.get("/api/queues", headers={"authorization": f"Bearer {TOKEN}"})
        css = await c.get("/static/dashboard.css")
    assert api.status_code == 401 and api.json()["error"].startswith("a token is needed")
    assert api.headers["www-authenticate"].startswith("Bearer")
    assert page.status_code == 401 and 'name="token"' in page.text and QUEUE not in page.text
    assert post.status_code == 401 and wrong.status_code == 401
    assert good.status_code == 200 and good.json()[0]["name"] == QUEUE
    assert css.status_code == 200


async def test_the_login_form_sets_a_strict_httponly_cookie(registry: rr.Registry) -> None:
    async with client(create_app(registry, token=TOKEN)) as c:
        form = await c.get("/login")
        token = csrf_of(form.text)
        bad = await c.post("/login", data={"csrf": token, "token": "wrong"})
        no_csrf = await c.post("/login", data={"token": TOKEN})
        ok = await c.post("/login", data={"csrf": token, "token": TOKEN})
        after = await c.get("/")
    assert bad.status_code == 401 and "wrong token" in bad.text
    assert no_csrf.status_code == 403
    assert ok.status_code == 303 and ok.headers["location"] == "/"
    cookie = next(v for k, v in ok.headers.multi_items()
                  if k == "set-cookie" and v.startswith("runa_session="))
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie
    assert TOKEN not in cookie  # an HMAC of the token, not the token
    assert after.status_code == 200 and QUEUE in after.text


# ---- CSRF -----------------------------------------------------------------------------

async def test_a_form_post_needs_its_csrf_token(registry: rr.Registry) -> None:
    job_id = await failed_job(registry)
    url = f"/queues/{QUEUE}/failed/retry"
    async with client(create_app(registry)) as c:
        token = csrf_of((await c.get(f"/queues/{QUEUE}?state=failed")).text)
        missing = await c.post(url, data={"one": job_id})
        forged = await c.post(url, data={"one": job_id, "csrf": "0" * 64})
        async with client(create_app(registry)) as other:  # its own cookie, not this one's
            foreign = await other.post(url, data={"one": job_id, "csrf": token})
        assert await state(registry, job_id) == "failed"
        ok = await c.post(url, data={"one": job_id, "csrf": token})
    for refused in (missing, forged, foreign):
        assert refused.status_code == 403 and "CSRF token" in refused.text
    assert ok.status_code == 303
    assert ok.headers["location"] == f"/queues/{QUEUE}?state=failed&done=retry&count=1"
    assert await state(registry, job_id) == "pending"


async def test_a_cross_origin_json_post_is_refused(registry: rr.Registry) -> None:
    job_id = await failed_job(registry)
    url = f"/api/queues/{QUEUE}/failed/retry"
    async with client(create_app(registry)) as c:
        evil = await c.post(url, json={"all": True}, headers={"origin": "http://evil.example"})
        site = await c.post(url, json={"all": True}, headers={"sec-fetch-site": "cross-site"})
        simple = await c.post(url, content=b'{"all": true}',
                              headers={"content-type": "text/plain"})
        assert await state(registry, job_id) == "failed"
        same = await c.post(url, json={"all": True}, headers={"origin": BASE})
    assert [evil.status_code, site.status_code, simple.status_code] == [403, 403, 415]
    assert same.json() == {"count": 1}


async def test_with_a_token_a_bearer_json_post_needs_nothing_else(
    registry: rr.Registry,
) -> None:
    await failed_job(registry)
    async with client(create_app(registry, token=TOKEN)) as c:
        answer = await c.post(f"/api/queues/{QUEUE}/failed/retry", json={"all": True},
                              headers={"authorization": f"Bearer {TOKEN}",
                                       "origin": "http://elsewhere.example"})
    assert answer.json() == {"count": 1}


async def test_loopback_only_hosts_refuse_a_rebound_name(registry: rr.Registry) -> None:
    app = LoopbackHosts(create_app(registry))
    async with client(app) as c:
        codes = [(await c.get("/api/queues", headers={"host": h})).status_code
                 for h in ("127.0.0.1:8765", "localhost:8765", "[::1]:8765", "localhost",
                           "evil.example:8765", "evil.example")]
    assert codes == [200, 200, 200, 200, 400, 400]


# ---- escaping -------------------------------------------------------------------------

async def test_hostile_payloads_errors_and_names_show_as_text(registry: rr.Registry) -> None:
    job_id = await failed_job(registry, {"to": HOSTILE}, error=f"ValueError: {HOSTILE}")
    async with client(create_app(registry)) as c:
        pages = [await c.get(p) for p in (
            "/", f"/queues/{QUEUE}?state=failed", f"/jobs/{job_id}")]
    for page in pages:
        assert page.status_code == 200
        assert "<img" not in page.text and "<script>alert" not in page.text
        assert "script-src 'self'" in page.headers["content-security-policy"]
    assert "&lt;script&gt;alert(2)&lt;/script&gt;" in pages[0].text
    assert "&lt;img src=x onerror=alert(1)&gt;" in pages[1].text
    assert "&lt;img src=x onerror=alert(1)&gt;" in pages[2].text


async def test_deleting_all_from_the_page_needs_the_confirmation_box(
    registry: rr.Registry,
) -> None:
    job_id = await failed_job(registry)
    url = f"/queues/{QUEUE}/failed/delete"
    async with client(create_app(registry)) as c:
        page = await c.get(f"/queues/{QUEUE}?state=failed")
        token = csrf_of(page.text)
        unconfirmed = await c.post(url, data={"csrf": token, "all": "1"})
        assert await state(registry, job_id) == "failed"
        confirmed = await c.post(url, data={"csrf": token, "all": "1", "confirm": "1"})
    assert 'name="confirm" value="1" required' in page.text
    assert unconfirmed.status_code == 400 and "confirmation box" in unconfirmed.text
    assert confirmed.status_code == 303 and confirmed.headers["location"].endswith("count=1")
    assert await state(registry, job_id) is None
