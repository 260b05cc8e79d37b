"""Composing middleware: ``async def mw(value, call_next)`` chains, outermost first.

Run middleware wraps a handler call (value: the Job); push middleware wraps the
driver's store (value: the Envelope, result: the job id). Both are composed here.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

T = TypeVar("T")
R = TypeVar("R")

Call = Callable[[T], Awaitable[R]]


def compose(chain: Sequence[Callable[[T, Call[T, R]], Awaitable[Any]]],
            inner: Call[T, R]) -> Call[T, R]:
    """``inner`` wrapped by each middleware of ``chain``, the first one outermost."""
    call = inner
    for mw in reversed(chain):
        call = _bind(mw, call)
    return call


def _bind(mw: Callable[[T, Call[T, R]], Awaitable[Any]], nxt: Call[T, R]) -> Call[T, R]:
    async def call(value: T) -> R:
        result: R = await mw(value, nxt)
        return result

    return call
