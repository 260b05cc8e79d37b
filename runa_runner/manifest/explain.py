"""``validate --explain JOB``: each effective setting of a job and where it came from."""

from __future__ import annotations

import json
from typing import Any

from ..durations import format_duration
from ..errors import UnknownName
from .problems import did_you_mean
from .view import QUEUE_DEFAULTS, WORKER_DEFAULTS, View, seconds

#: Settings that are durations (shown as 1m30s rather than 90.0).
_DURATIONS = frozenset({"retry_delay", "retry_max_delay", "timeout", "retention", "unique_for",
                        "result_ttl",
                        "poll_interval", "lease", "stop_timeout"})
_JOB_KEYS = ("retry", "retry_delay", "timeout")
_JOB_ONLY = {"unique_until": "done", "unique_for": None}

Row = tuple[str, str, str]


def _show(key: str, value: Any) -> str:
    if value is None:
        return "none"
    if key in _DURATIONS:
        secs = seconds(value)
        return format_duration(secs) if secs is not None else str(value)
    if isinstance(value, list):
        return ", ".join(map(str, value))
    if isinstance(value, dict | bool):
        return json.dumps(value)
    return str(value)


def explain_rows(view: View, job_name: str) -> list[Row]:
    """(setting, value, source) rows for ``job_name``."""
    if job_name not in view.jobs:
        raise UnknownName(f"unknown job '{job_name}'" + did_you_mean(job_name, view.jobs))
    job = view.jobs[job_name]
    queue_name = view.job_queue(job_name)
    queue = view.queues.get(queue_name, {})
    q_src = f"queue {queue_name}"
    rows: list[Row] = [
        ("handler", str(job.get("handler")), f"job {job_name}"),
        ("queue", queue_name, f"job {job_name}" if "queue" in job else "default"),
        ("driver", view.queue_driver(queue_name), q_src if "driver" in queue
         else "default_driver" if "default_driver" in view.body else "default"),
        ("workers", _show("workers", view.queue_workers(queue_name)),
         q_src if "workers" in queue else "default"),
    ]
    for key in (*QUEUE_DEFAULTS, *_JOB_ONLY):
        if key in job:
            rows.append((key, _show(key, job[key]), f"job {job_name}"))
        elif key in queue and key not in _JOB_ONLY:
            rows.append((key, _show(key, queue[key]), q_src))
        else:
            rows.append((key, _show(key, {**QUEUE_DEFAULTS, **_JOB_ONLY}[key]), "default"))
    for worker_name in view.queue_workers(queue_name):
        worker = view.workers.get(worker_name, {})
        for key, default in WORKER_DEFAULTS.items():
            source = f"worker {worker_name}" if key in worker else "default"
            rows.append((key, _show(key, worker.get(key, default)), source))
    rows.extend(_meta_rows(job_name, job, queue_name, queue))
    return rows


def _meta_rows(job_name: str, job: dict[str, Any], queue_name: str,
               queue: dict[str, Any]) -> list[Row]:
    merged: dict[str, Row] = {}
    for source, meta in ((f"queue {queue_name}", queue.get("meta")), (f"job {job_name}",
                                                                        job.get("meta"))):
        for key, value in (meta if isinstance(meta, dict) else {}).items():
            merged[key] = (f"meta.{key}", json.dumps(value), source)  # later wins
    return list(merged.values()) or [("meta", "{}", "default")]


def explain(view: View, job_name: str) -> str:
    """The rows as aligned text: ``retry        3      (queue critical)``."""
    rows = explain_rows(view, job_name)
    width = max(len(r[0]) for r in rows) + 2
    value_width = max(len(r[1]) for r in rows) + 2
    lines = [f"job {job_name}"]
    lines += [f"{k.ljust(width)}{v.ljust(value_width)}({s})" for k, v, s in rows]
    return "\n".join(lines)
