"""Handlers of the security manifests (copied into each project folder)."""

from __future__ import annotations

from typing import Any

from runa_runner import Job


async def ok(job: Job[Any]) -> None:
    """Does nothing: these tests are about what the CLI prints and refuses."""
