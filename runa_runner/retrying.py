"""Retry policy: from how a run ended to what happens to the job (once, above the drivers)."""

from __future__ import annotations

import random
import traceback as tb_module

from .drivers.base import Outcome, Reserved
from .errors import Abort, RetryIn
from .specs import QueueSpec


def retry_delay(queue: QueueSpec, base: float, attempt: int) -> float:
    """Delay before the next run after failed run number ``attempt`` (1-based).

    Fixed: ``base``. Exponential: ``base * 2**(attempt-1)`` capped at
    ``retry_max_delay``, with "equal jitter" (a random point in the upper half)
    so that a burst of failures does not retry in lockstep; always in [base/2, cap].
    """
    if queue.retry_backoff != "exponential":
        return base
    delay = base * (2 ** max(attempt - 1, 0))
    if queue.retry_max_delay is not None:
        delay = min(delay, queue.retry_max_delay)
    jittered: float = delay / 2 + random.uniform(0, delay / 2)
    return jittered


def describe(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def failure_outcome(
    queue: QueueSpec, reserved: Reserved, exc: BaseException, *, error: str | None = None
) -> Outcome:
    """Release for a retry while runs remain; otherwise fail, keeping error and traceback.

    ``Abort`` fails at once; ``RetryIn`` chooses the delay but still spends a retry.
    """
    env = reserved.envelope
    ids = (env.queue, env.id, reserved.token)
    if isinstance(exc, Abort):
        return Outcome(*ids, kind="fail", error=exc.reason)
    message = error or describe(exc)
    if env.attempt >= env.max_attempts:
        trace = "".join(tb_module.format_exception(exc)) if exc.__traceback__ else None
        return Outcome(*ids, kind="fail", error=message, traceback=trace)
    if isinstance(exc, RetryIn):
        delay = exc.seconds
    else:
        delay = retry_delay(queue, env.retry_delay, env.attempt)
    return Outcome(*ids, kind="release", delay=delay, error=message)
