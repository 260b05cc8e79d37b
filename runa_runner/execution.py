"""Running one reserved job: rebuild the typed Job, apply run middleware, enforce the timeout.

Returns the Outcome to settle; cancellation for stop or lease loss is decided
by the caller (the unit), which owns the task.
"""

from __future__ import annotations

import asyncio
import contextvars
import json
import threading
import time
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from .drivers.base import Outcome, Reserved
from .errors import Abort
from .job import Job
from .middleware import compose
from .results import ResultNotJSON, encode_result
from .retrying import failure_outcome
from .specs import JobSpec, QueueSpec, RunMiddleware

Call = Callable[[Job[Any]], Awaitable[None]]


@dataclass(slots=True)
class Running:
    """One job in flight in a unit: what renewal, stop and the settle step need."""

    reserved: Reserved
    queue: QueueSpec
    lease_until: float
    cancelled: threading.Event = field(default_factory=threading.Event)
    task: asyncio.Task[None] | None = None
    #: why the unit cancelled the task: "stop" or "lease"; None while running normally.
    reason: str | None = None
    thread: asyncio.Future[Any] | None = None
    #: time.monotonic() when the run began (the duration in on_settled)
    started: float = field(default_factory=time.monotonic)
    #: what the handler returned (kept when the job has a result_ttl)
    result: Any = None


class Poison(Exception):
    """The message cannot run at all (unknown job name, invalid payload): fail it, no retry."""


def build_job(spec: JobSpec | None, r: Running) -> Job[Any]:
    env = r.reserved.envelope
    if spec is None:
        raise Poison(f"unknown job '{env.job}': no handler is declared for it")
    payload = env.payload
    limit = r.queue.max_payload_bytes
    if limit is not None:
        # A foreign producer may have skipped the push-time check: refuse it here too.
        size = len(json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode())
        if size > limit:
            raise Poison(f"payload is {size} bytes, over queue '{r.queue.name}' limit of "
                         f"{limit} bytes")
    if spec.adapter is not None:
        try:
            payload = spec.adapter.validate_python(payload)
        except ValidationError as exc:
            fields = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or 'payload'}: {e['msg']}"
                for e in exc.errors(include_url=False)
            )
            raise Poison(f"invalid payload: {fields}") from None
    return Job(
        id=env.id, name=env.job, queue=env.queue, payload=payload, attempt=env.attempt,
        max_attempts=env.max_attempts, meta=dict(env.meta), enqueued_at=env.enqueued_at,
        timeout=env.timeout, cancelled=r.cancelled,
    )


def handler_call(spec: JobSpec, r: Running, threads: Executor | None = None) -> Call:
    """The innermost call: the handler itself (a sync one in a thread the unit can track)."""
    if spec.is_async:
        async def call_async(job: Job[Any]) -> None:
            # Taken here, not from the middleware chain, which need not pass it on.
            r.result = await spec.handler(job)

        return call_async

    async def call_sync(job: Job[Any]) -> None:
        # A thread cannot be killed: on timeout we stop waiting and set job.cancelled,
        # and the unit keeps the concurrency slot until the thread really returns.
        ctx = contextvars.copy_context()
        loop = asyncio.get_running_loop()
        r.thread = loop.run_in_executor(threads, ctx.run, spec.handler, job)
        r.result = await asyncio.shield(r.thread)

    return call_sync


async def execute(
    spec: JobSpec | None, r: Running, middleware: Sequence[RunMiddleware],
    threads: Executor | None = None,
) -> Outcome:
    """Run the handler once; map how it ended to an Outcome (ack, release or fail)."""
    env = r.reserved.envelope
    try:
        job = build_job(spec, r)
    except Poison as exc:
        return Outcome(queue=env.queue, job_id=env.id, token=r.reserved.token,
                       kind="fail", error=str(exc))
    assert spec is not None
    call = compose(middleware, handler_call(spec, r, threads))
    try:
        if env.timeout is None:
            await call(job)
        else:
            timer = asyncio.timeout(env.timeout)
            try:
                async with timer:
                    await call(job)
            except TimeoutError as exc:
                if not timer.expired():
                    raise
                r.cancelled.set()
                return failure_outcome(r.queue, r.reserved, exc,
                                       error=f"timed out after {env.timeout:g}s")
    except Abort as exc:
        return failure_outcome(r.queue, r.reserved, exc)
    except Exception as exc:
        return failure_outcome(r.queue, r.reserved, exc)
    if env.result_ttl <= 0:
        return Outcome(queue=env.queue, job_id=env.id, token=r.reserved.token, kind="ack")
    return kept_result(r)


def kept_result(r: Running) -> Outcome:
    """The ack that keeps the run's result; a result that is no JSON fails the run (a bug
    in the handler: retried like any failure while runs remain)."""
    env = r.reserved.envelope
    try:
        text = encode_result(r.result)
    except ResultNotJSON as exc:
        return failure_outcome(r.queue, r.reserved, exc, error=str(exc))
    return Outcome(queue=env.queue, job_id=env.id, token=r.reserved.token, kind="ack",
                   result=text, result_ttl=env.result_ttl)
