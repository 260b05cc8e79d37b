"""Handlers for the bad-manifest corpus (importable with this folder as app_dir)."""

from __future__ import annotations

from typing import Any

SETTING = 3


async def send(job: Any) -> None:
    """A valid handler."""


def no_argument() -> None:
    """Not a handler: it cannot accept the job."""


def two_arguments(job: Any, extra: Any) -> None:
    """Not a handler: a worker calls handler(job), with nothing for `extra`."""


def keyword_only(job: Any, *, client: Any) -> None:
    """Not a handler: `client` has no default."""


async def generator(job: Any) -> Any:
    """Not a handler: calling it returns an async generator, which never runs."""
    yield job


def with_defaults(job: Any, extra: Any = None, *, client: Any = None) -> None:
    """A valid handler: every parameter but the job has a default."""
