"""A worker ``Unit`` inside a Starlette (or FastAPI) app: started by the app's lifespan,
stopped gracefully when the server shuts down.

Run it from the repository's root (the ``jobs.yaml`` there, or ``$RUNA_CONFIG``)::

    uvicorn --factory examples.fastapi_lifespan:create_app
    curl -X POST localhost:8000/mail -d '{"to": "a@b.c"}'     # -> {"id": "..."}

FastAPI takes the same ``lifespan`` (``FastAPI(lifespan=lifespan)``). Each server process
runs its own unit, like one ``runa-runner work`` process; ``runa-runner list`` counts them.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

import runa_runner as rr


def create_app(registry: rr.Registry | None = None, worker: str = "critical") -> Starlette:
    """The app; ``registry`` defaults to ``rr.load()`` (``$RUNA_CONFIG`` or jobs.yaml)."""
    registry = registry if registry is not None else rr.load()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        unit = rr.Unit(registry, worker)
        running = asyncio.create_task(unit.run())
        app.state.unit, app.state.running = unit, running
        try:
            yield
        finally:
            # Graceful: reserve nothing more, let running jobs finish (at most the pool's
            # stop_timeout; then they are released for another worker, attempt given back).
            await unit.stop()
            try:
                await running  # raises rr.StopTimedOut / rr.WorkerFailed, if that happened
            finally:
                await registry.close()

    async def send_mail(request: Request) -> JSONResponse:
        try:
            job_id = await registry.push("mail.send", await request.json())
        except rr.PayloadInvalid as exc:  # one "JOB: FIELD: message" line per bad field
            return JSONResponse({"errors": str(exc).splitlines()}, status_code=422)
        return JSONResponse({"id": job_id}, status_code=202)

    return Starlette(routes=[Route("/mail", send_mail, methods=["POST"])], lifespan=lifespan)
