"""Observability (DESIGN §11): logs, Prometheus metrics and traces, each attached to the
run events of :mod:`runa_runner.events` rather than threaded through the worker.

- :mod:`.logs`: the one logging setup of ``work`` (text or JSON lines) and the observer
  that turns run events into log records with ``extra=`` fields.
- :mod:`.running`: which job the current task runs (a contextvar), set per run, so a
  handler's own log records are tagged with it.
- :mod:`.metrics`: a worker process's counters and histograms (``work --metrics``).
- :mod:`.exporter`: the broker-side gauges of ``runa-runner metrics``.
- :mod:`.tracing`: OpenTelemetry producer and consumer spans (the ``[otel]`` extra).

Optional libraries (prometheus-client, opentelemetry-api, rich) are imported only by
the module that needs them, and only when asked for.
"""

from __future__ import annotations

from ..specs import RunMiddleware
from .running import tagging
from .tracing import consuming


def run_middleware(worker: str) -> tuple[RunMiddleware, ...]:
    """What every run of ``worker`` goes through first: its log tag, then its span."""
    return tagging(worker), consuming()
