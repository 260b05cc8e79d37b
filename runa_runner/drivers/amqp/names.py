"""Every RabbitMQ name and queue argument the AMQP driver uses, in one place.

Layout for a queue ``mail`` with prefix ``runa.`` and exchange ``runa``:

* ``runa.mail`` — the work queue (quorum, durable), bound to the exchange with
  routing key ``runa.mail`` (its own name, so deployments with different
  prefixes can share an exchange without seeing each other's jobs). Quorum
  queues stamp ``x-delivery-count`` on redeliveries, which is how a crashed run
  still counts as an attempt.
* ``runa.mail.delay.<ms>`` — holding queues, one per delay bucket: every message
  in one shares a TTL (so none blocks another at the head), dead-letters back to
  the exchange with routing key ``runa.mail`` (at-least-once), and the queue expires
  when idle.
* ``runa.mail.failed`` — failed jobs (quorum, durable), one message each.
* ``runa._stats.<worker>`` — stat deltas of a worker pool (see stats.py).
* ``runa._workers.<worker>`` — one consumer per live worker instance (see stats.py).
* ``runa._wake.<instance>`` — per-process wake-up queue (see wake.py).
"""

from __future__ import annotations

import math
from typing import Any

QUORUM: dict[str, Any] = {"x-queue-type": "quorum"}

#: An idle holding queue outlives its last message by this much before it vanishes.
HOLDING_SLACK_MS = 600_000

#: Declares of a holding queue are refreshed this often (well inside HOLDING_SLACK_MS).
HOLDING_REFRESH = 60.0


def work_queue(prefix: str, queue: str) -> str:
    return f"{prefix}{queue}"


def failed_queue(prefix: str, queue: str) -> str:
    return f"{prefix}{queue}.failed"


def delay_queue(prefix: str, queue: str, delay_ms: int) -> str:
    return f"{prefix}{queue}.delay.{delay_ms}"


def stats_queue(prefix: str, worker: str) -> str:
    return f"{prefix}_stats.{worker}"


def workers_queue(prefix: str, worker: str) -> str:
    return f"{prefix}_workers.{worker}"


def wake_queue(prefix: str, instance: str) -> str:
    return f"{prefix}_wake.{instance}"


def bucket_ms(delay: float) -> int:
    """``delay`` seconds rounded *up* to two significant digits of milliseconds.

    Bounds the number of holding queues (90 per decade: 1.0s, 1.1s ... 9.9s,
    10s, 11s ...) at a cost of at most 10% extra delay; never shorter than asked.
    """
    ms = max(1, math.ceil(delay * 1000))
    if ms < 100:
        return ms
    step = int(10 ** (len(str(ms)) - 2))
    return -(-ms // step) * step


def holding_arguments(exchange: str, work: str, delay_ms: int) -> dict[str, Any]:
    """Arguments of a holding queue; identical for every declarer (RabbitMQ insists)."""
    return {
        **QUORUM,
        "x-message-ttl": delay_ms,
        "x-dead-letter-exchange": exchange,
        "x-dead-letter-routing-key": work,
        # at-least-once dead-lettering needs reject-publish overflow (RabbitMQ >= 3.10).
        "x-dead-letter-strategy": "at-least-once",
        "x-overflow": "reject-publish",
        "x-expires": delay_ms + HOLDING_SLACK_MS,
    }
