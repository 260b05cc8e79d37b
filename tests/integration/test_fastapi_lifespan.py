"""examples/fastapi_lifespan.py: the app's lifespan runs a worker unit that runs what the
app pushes, and shutdown stops it gracefully (a running job finishes first)."""

from __future__ import annotations

import asyncio
import importlib.util
from pathlib import Path

import pytest
from pydantic import BaseModel

import runa_runner as rr

pytest.importorskip("starlette", reason="the dashboard extra (starlette) is not installed")
httpx = pytest.importorskip("httpx")

REPO = Path(__file__).resolve().parents[2]


def _example() -> object:
    """The example module, loaded from its file (``examples`` need not be on sys.path)."""
    spec = importlib.util.spec_from_file_location(
        "fastapi_lifespan_example", REPO / "examples" / "fastapi_lifespan.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


create_app = _example().create_app  # type: ignore[attr-defined]


class Mail(BaseModel):
    to: str


class Handlers:
    """``mail.send``: records each run; a run for ``slow@`` waits until released."""

    def __init__(self) -> None:
        self.sent: list[str] = []
        self.ran = asyncio.Event()
        self.slow_started = asyncio.Event()
        self.release = asyncio.Event()

    async def send(self, job: rr.Job[Mail]) -> None:
        if job.payload.to.startswith("slow@"):
            self.slow_started.set()
            await self.release.wait()
        self.sent.append(job.payload.to)
        self.ran.set()


def registry(tmp_path: Path, handlers: Handlers) -> rr.Registry:
    r = rr.Registry()
    r.driver("local", rr.drivers.SQLiteDriver(str(tmp_path / "queue.db")))
    r.queue("critical", driver="local", workers=["critical"])
    r.worker("critical", concurrency=2, poll_interval=0.05)
    r.job("mail.send", handlers.send, queue="critical")
    return r.freeze()


async def test_a_pushed_job_runs_and_shutdown_stops_the_unit(tmp_path: Path) -> None:
    handlers = Handlers()
    app = create_app(registry(tmp_path, handlers))
    transport = httpx.ASGITransport(app=app)

    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=transport, base_url="http://app") as client:
            accepted = await client.post("/mail", json={"to": "a@b.c"})
            refused = await client.post("/mail", json={"too": "a@b.c"})
        await asyncio.wait_for(handlers.ran.wait(), 20)
        running = app.state.running
        assert not running.done()

    assert accepted.status_code == 202 and len(accepted.json()["id"]) > 0
    assert refused.status_code == 422
    assert refused.json() == {"errors": ["mail.send: to: Field required"]}
    assert handlers.sent == ["a@b.c"]
    assert running.done() and running.exception() is None  # stopped, not cancelled


async def test_shutdown_lets_a_running_job_finish(tmp_path: Path) -> None:
    handlers = Handlers()
    reg = registry(tmp_path, handlers)
    app = create_app(reg)
    lifespan = app.router.lifespan_context(app)
    await lifespan.__aenter__()
    job_id = await reg.push("mail.send", {"to": "slow@b.c"})
    await asyncio.wait_for(handlers.slow_started.wait(), 20)

    shutdown = asyncio.create_task(lifespan.__aexit__(None, None, None))
    for _ in range(20):  # let the shutdown run as far as it can without the job
        await asyncio.sleep(0)
    assert not shutdown.done()  # waiting for the running job
    handlers.release.set()
    await asyncio.wait_for(shutdown, 20)

    assert handlers.sent == ["slow@b.c"]
    assert app.state.running.exception() is None
    check = registry(tmp_path, Handlers())
    try:
        assert await check.job_info(job_id) is None  # succeeded (deleted), not released
        [pool] = await check.worker_info()
        assert pool.instances == 0 and pool.succeeded == 1
    finally:
        await check.close()


def test_the_readme_shows_the_examples_lifespan() -> None:
    readme = (REPO / "README.md").read_text("utf-8").split("\n## Python API", 1)[1]
    readme = readme.split("\n## ", 1)[0]
    example = (REPO / "examples" / "fastapi_lifespan.py").read_text("utf-8")
    [snippet] = [block for block in readme.split("```python\n")[1:]
                 if "lifespan" in block.split("```", 1)[0]]
    snippet = snippet.split("```", 1)[0]
    for line in snippet.splitlines():
        assert line.strip() in example, line
