"""Handlers for the schedule tests (imported with this folder as app_dir)."""

from __future__ import annotations

from pydantic import BaseModel

from runa_runner import Job


class Page(BaseModel):
    cursor: str
    size: int


def collect(job: Job[Page]) -> None:
    """A handler with a payload type."""


def anything(job: Job[dict[str, object]]) -> None:
    """A handler taking any JSON object."""
