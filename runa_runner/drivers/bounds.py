"""The last check before a driver stores a push: every number within the documented range.

The registry, the API and the CLI check their inputs first; this is the drivers'
own floor, so a number that slipped past them (an int of 400 digits, NaN, 1e400)
becomes one clear :class:`DriverError` instead of an OverflowError deep inside a
client library, or a row that no worker can read back.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..errors import DriverError
from ..limits import MAX_RETRY, check_retry, check_seconds
from .base import PushItem


def check_items(driver: str, items: Sequence[PushItem]) -> None:
    """Raise DriverError naming the job and the number that cannot be stored."""
    for item in items:
        try:
            _check(item)
        except ValueError as exc:
            env = item.envelope
            raise DriverError(f"{driver}: cannot store job {env.id} ({env.job}): {exc}") from None


def _check(item: PushItem) -> None:
    env = item.envelope
    check_retry(env.max_retries, "max_retries")
    if isinstance(env.attempt, bool) or not isinstance(env.attempt, int) \
            or not 0 <= env.attempt <= MAX_RETRY + 1:
        raise ValueError(f"attempt must be between 0 and {MAX_RETRY + 1:,}")
    check_seconds(item.delay, "delay")
    check_seconds(env.retry_delay, "retry_delay")
    if env.timeout is not None:
        check_seconds(env.timeout, "timeout")
    if item.unique_for is not None:
        check_seconds(item.unique_for, "unique_for")
