"""OpenTelemetry spans of a push and its runs, read from an in-memory exporter.

A tracer provider can be set once per process; the fixture sets one and then puts the
API's globals back as opentelemetry's own test utilities do, so no other test runs traced.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from opentelemetry.util._once import Once

import runa_runner as rr
from runa_runner.observe import tracing


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    try:
        yield exporter
    finally:
        trace._TRACER_PROVIDER = None
        trace._TRACER_PROVIDER_SET_ONCE = Once()
        provider.shutdown()


def registry(handler: Any, retry: int = 0) -> rr.Registry:
    reg = rr.Registry()
    reg.queue("mail", workers=["w"], retry=retry, retry_delay=0)
    reg.worker("w", poll_interval=0.01)
    reg.job("send", handler, queue="mail")
    return reg.freeze()


async def drain(reg: rr.Registry) -> None:
    for _ in range(3):  # a retry waits out its (zero) delay between bursts
        await asyncio.wait_for(rr.Unit(reg, "w").run(burst=True), 10)


async def test_a_push_is_a_producer_span_and_its_run_a_consumer_child(
    spans: InMemorySpanExporter,
) -> None:
    metas: list[dict[str, Any]] = []

    async def handler(job: rr.Job[Any]) -> None:
        metas.append(job.meta)

    reg = registry(handler)
    job_id = await reg.push("send", {"to": "a"})
    await drain(reg)
    producer, consumer = spans.get_finished_spans()
    assert producer.kind == SpanKind.PRODUCER and consumer.kind == SpanKind.CONSUMER
    assert producer.name == "send mail" and consumer.name == "process mail"
    assert dict(producer.attributes or {}) == {
        "messaging.system": "runa", "messaging.destination.name": "mail",
        "messaging.operation.type": "send", "runa.job": "send",
        "messaging.message.id": job_id, "messaging.batch.message_count": 1}
    attrs = dict(consumer.attributes or {})
    assert attrs["messaging.system"] == "runa"
    assert attrs["messaging.destination.name"] == "mail"
    assert attrs["messaging.message.id"] == job_id
    assert consumer.parent is not None
    assert consumer.parent.span_id == producer.context.span_id
    assert consumer.context.trace_id == producer.context.trace_id
    assert metas[0]["traceparent"].startswith(
        f"00-{producer.context.trace_id:032x}-{producer.context.span_id:016x}-")
    await reg.close()


async def test_a_retry_is_a_new_trace_linked_to_the_push(spans: InMemorySpanExporter) -> None:
    async def handler(job: rr.Job[Any]) -> None:
        if job.attempt == 1:
            raise RuntimeError("once")

    reg = registry(handler, retry=1)
    await reg.push("send", {})
    await drain(reg)
    producer, first, second = spans.get_finished_spans()
    assert first.parent is not None and first.parent.span_id == producer.context.span_id
    assert not first.status.is_ok and first.events[0].name == "exception"
    assert second.parent is None
    assert second.context.trace_id != producer.context.trace_id
    assert [link.context.span_id for link in second.links] == [producer.context.span_id]
    assert dict(second.attributes or {})["runa.attempt"] == 2
    await reg.close()


async def test_a_batch_is_one_producer_span_stamping_every_job(
    spans: InMemorySpanExporter,
) -> None:
    seen: list[str] = []

    async def handler(job: rr.Job[Any]) -> None:
        seen.append(job.meta["traceparent"])

    reg = registry(handler)
    await reg.push_many("send", [{}, {}, {}])
    await drain(reg)
    producer = spans.get_finished_spans()[0]
    assert dict(producer.attributes or {})["messaging.batch.message_count"] == 3
    assert len(set(seen)) == 1 and seen[0].split("-")[2] == f"{producer.context.span_id:016x}"
    await reg.close()


async def test_without_a_provider_nothing_is_stamped_or_recorded() -> None:
    metas: list[dict[str, Any]] = []

    async def handler(job: rr.Job[Any]) -> None:
        metas.append(job.meta)

    reg = registry(handler)
    await reg.push("send", {})
    await drain(reg)
    assert metas == [{}]
    await reg.close()


def test_an_odd_stored_traceparent_is_ignored() -> None:
    otel = tracing._otel()
    assert otel is not None
    trace_module, propagator = otel
    for meta in ({"traceparent": 5}, {"traceparent": "x" * 500}, {"traceparent": "00-zz"},
                 "not a dict"):
        assert tracing._pushed_context(meta, propagator, trace_module) is None
