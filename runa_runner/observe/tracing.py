"""OpenTelemetry spans for pushes and runs (the ``[otel]`` extra; DESIGN §11).

A push opens a PRODUCER span and stores its W3C ``traceparent`` in each job's meta; a
run opens a CONSUMER span whose parent is that context. A retry's run (attempt 2 on)
starts a trace of its own linked to the push, so a trace is one push and its first run
and a retry storm does not grow it without bound. Attributes follow the messaging
semantic conventions: ``messaging.system=runa``, ``messaging.destination.name`` (the
queue), ``messaging.message.id`` (the job id), ``messaging.operation.type``.

Nothing here costs more than a check while no tracer provider is configured (the
opentelemetry API's default is a no-op), and opentelemetry is imported only on first
use, guarded: without the extra every function is a no-op.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
from collections.abc import Iterator, Sequence
from types import ModuleType
from typing import Any

from ..drivers.base import PushItem
from ..specs import RunMiddleware

SYSTEM = "runa"
#: The meta key holding the push's trace context (W3C Trace Context header format).
TRACEPARENT = "traceparent"
#: Longest traceparent accepted from a stored job (the W3C form is 55 characters).
MAX_TRACEPARENT = 128


@functools.cache
def _otel() -> tuple[ModuleType, Any] | None:
    """opentelemetry.trace and a W3C propagator, or None without the extra."""
    try:
        from opentelemetry import trace
        from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
    except ImportError:
        return None
    return trace, TraceContextTextMapPropagator()


def _tracer() -> Any | None:
    """The tracer of the configured provider; None without the extra or a provider."""
    otel = _otel()
    if otel is None:
        return None
    trace = otel[0]
    provider = trace.get_tracer_provider()
    if isinstance(provider, trace.ProxyTracerProvider | trace.NoOpTracerProvider):
        return None
    return provider.get_tracer("runa_runner")


class _Untraced:
    """What ``producing`` yields when nothing traces: leaves items as they are."""

    def stamp(self, items: list[PushItem]) -> list[PushItem]:
        return items

    def stored(self, ids: Sequence[str]) -> None:
        pass


_UNTRACED = _Untraced()


class _Producer(_Untraced):
    def __init__(self, span: Any, traceparent: str | None) -> None:
        self.span = span
        self.traceparent = traceparent

    def stamp(self, items: list[PushItem]) -> list[PushItem]:
        if self.traceparent is None:
            return items
        tp = self.traceparent
        # The pre-built wire text lacks the new meta: the driver encodes the envelope.
        return [dataclasses.replace(i, wire=None, envelope=dataclasses.replace(
            i.envelope, meta={**i.envelope.meta, TRACEPARENT: tp})) for i in items]

    def stored(self, ids: Sequence[str]) -> None:
        if len(ids) == 1:
            self.span.set_attribute("messaging.message.id", ids[0])
        self.span.set_attribute("messaging.batch.message_count", len(ids))


@contextlib.contextmanager
def producing(queue: str, job: str) -> Iterator[_Untraced]:
    """Around one push (or batch) of ``job`` to ``queue``: a PRODUCER span when a tracer
    provider is configured. ``stamp`` the items before storing them, tell ``stored``."""
    tracer = _tracer()
    if tracer is None:
        yield _UNTRACED
        return
    trace, propagator = _otel()  # type: ignore[misc]
    with tracer.start_as_current_span(
        f"send {queue}", kind=trace.SpanKind.PRODUCER,
        attributes={"messaging.system": SYSTEM, "messaging.destination.name": queue,
                    "messaging.operation.type": "send", "runa.job": job},
    ) as span:
        carrier: dict[str, str] = {}
        propagator.inject(carrier)
        yield _Producer(span, carrier.get(TRACEPARENT))


def consuming() -> RunMiddleware:
    """A run middleware: a CONSUMER span around the handler, parented by the push."""

    async def consume(job: Any, call_next: Any) -> None:
        tracer = _tracer()
        if tracer is None:
            await call_next(job)
            return
        trace, propagator = _otel()  # type: ignore[misc]
        parent = _pushed_context(job.meta, propagator, trace)
        links = []
        if parent is not None and job.attempt > 1:
            links = [trace.Link(trace.get_current_span(parent).get_span_context())]
            parent = None
        with tracer.start_as_current_span(
            f"process {job.queue}", context=parent, kind=trace.SpanKind.CONSUMER, links=links,
            attributes={"messaging.system": SYSTEM, "messaging.destination.name": job.queue,
                        "messaging.message.id": job.id, "messaging.operation.type": "process",
                        "runa.job": job.name, "runa.attempt": job.attempt},
        ):
            await call_next(job)

    return consume


def _pushed_context(meta: Any, propagator: Any, trace: ModuleType) -> Any | None:
    """The push's context from a stored job's meta (untrusted: anything odd is ignored)."""
    value = meta.get(TRACEPARENT) if isinstance(meta, dict) else None
    if not isinstance(value, str) or len(value) > MAX_TRACEPARENT:
        return None
    ctx = propagator.extract({TRACEPARENT: value})
    return ctx if trace.get_current_span(ctx).get_span_context().is_valid else None
