"""Handlers for the bad-manifest corpus (importable with this folder as app_dir)."""

from __future__ import annotations

from typing import Any

SETTING = 3


async def send(job: Any) -> None:
    """A valid handler."""


def no_argument() -> None:
    """Not a handler: it cannot accept the job."""
