"""Handlers the fuzzed manifests may name (the folder is put on sys.path by ``app_dir``)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from runa_runner import Job


class Order(BaseModel):
    id: int
    items: list[str]
    note: str | None = None
    rush: bool = False


async def ok(job: Job[Any]) -> None:
    """Untyped: any JSON payload."""


async def order(job: Job[Order]) -> None:
    """Typed: the payload must be an Order."""


def sync_ok(job: Job[dict[str, int]]) -> None:
    """Sync, typed: a mapping of names to integers."""


not_callable = 42
