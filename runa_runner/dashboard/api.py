"""The JSON API under ``/api/`` (DESIGN §12): the shapes of ``list --json``,
``schedule list --json`` and ``job --json``, job pages ``{"jobs", "next"}`` and
``{"count"}`` for the admin POSTs. Errors are ``{"error": "one line"}`` with a status."""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from ..inspection import MAX_PAGE, PAGE
from . import admin
from .guard import json_problem
from .reads import MAX_ID_CHARS, Problem, Reader

#: The largest admin POST body read (1000 ids of 200 characters fit).
MAX_BODY = 256 * 1024


def query_limit(request: Request, default: int = PAGE) -> int:
    """The ``limit`` query parameter. Raises Problem 400 outside 1..MAX_PAGE."""
    text = request.query_params.get("limit")
    if text is None:
        return default
    if not text.isdigit() or not 1 <= int(text) <= MAX_PAGE:
        raise Problem(400, f"limit must be a whole number from 1 to {MAX_PAGE}, got {text!r}")
    return int(text)


def query_after(request: Request) -> str | None:
    after = request.query_params.get("after") or None
    if after is not None and len(after) > MAX_ID_CHARS:
        raise Problem(400, f"after must be a job id (at most {MAX_ID_CHARS} characters)")
    return after


async def json_body(request: Request) -> Any:
    body = await request.body()
    if len(body) > MAX_BODY:
        raise Problem(413, f"the body is larger than {MAX_BODY} bytes")
    try:
        return json.loads(body)
    except (ValueError, RecursionError):
        raise Problem(400, "the body is not valid JSON") from None


class Api:
    """The ``/api/`` endpoints over one :class:`Reader`."""

    def __init__(self, reader: Reader) -> None:
        self.reader = reader

    def routes(self) -> list[Route]:
        return [
            Route("/api/queues", self.answer(self.queues)),
            Route("/api/workers", self.answer(self.workers)),
            Route("/api/schedules", self.answer(self.schedules)),
            Route("/api/jobs/{job_id:path}", self.answer(self.job)),
            Route("/api/queues/{queue:path}/jobs", self.answer(self.jobs)),
            Route("/api/queues/{queue:path}/failed/retry", self.answer(self.retry),
                  methods=["POST"]),
            Route("/api/queues/{queue:path}/failed/delete", self.answer(self.delete),
                  methods=["POST"]),
        ]

    @staticmethod
    def answer(handler: Any) -> Any:
        """``handler``'s result as JSON; a Problem as ``{"error"}`` with its status."""
        async def endpoint(request: Request) -> JSONResponse:
            try:
                return JSONResponse(await handler(request))
            except Problem as problem:
                return json_problem(problem)

        return endpoint

    async def queues(self, request: Request) -> list[dict[str, Any]]:
        return await self.reader.queues(self.reader.inspector())

    async def workers(self, request: Request) -> list[dict[str, Any]]:
        return await self.reader.workers(self.reader.inspector())

    async def schedules(self, request: Request) -> list[dict[str, Any]]:
        rows, _ = await self.reader.schedules(self.reader.inspector())
        return rows

    async def job(self, request: Request) -> dict[str, Any]:
        return (await self.reader.job(request.path_params["job_id"])).to_dict()

    async def jobs(self, request: Request) -> dict[str, Any]:
        state = request.query_params.get("state", "pending")
        page = await self.reader.page(request.path_params["queue"], state,
                                      query_limit(request), query_after(request))
        return page.to_dict()

    async def retry(self, request: Request) -> dict[str, Any]:
        return await self.act(request, "retry")

    async def delete(self, request: Request) -> dict[str, Any]:
        return await self.act(request, "delete")

    async def act(self, request: Request, action: admin.Action) -> dict[str, Any]:
        queue = request.path_params["queue"]
        self.reader.known_queue(queue)
        chosen = admin.from_json(await json_body(request))
        return {"count": await admin.act(self.reader, queue, action, chosen)}
