"""Plumbing for the Redis integration tests: a namespace per test, raw access, cleanup.

Every test gets its own key prefix (``test:<uuid>:``); everything under it is deleted
afterwards, never FLUSHALL. Keys look like ``{test:<uuid>:q}:ready`` (hash tag first).
"""

from __future__ import annotations

import contextlib
import uuid
from dataclasses import dataclass, field
from typing import Any

import redis.asyncio as aioredis

from runa_runner.drivers.base import PushItem, UniqueUntil
from runa_runner.drivers.redis import RedisDriver
from runa_runner.job import Envelope, new_id

QUEUE = "q"


@dataclass
class Namespace:
    """One test's prefix on the shared server, the drivers it opened and a raw client."""

    url: str
    prefix: str = field(default_factory=lambda: f"test:{uuid.uuid4().hex}:")
    made: list[RedisDriver] = field(default_factory=list)
    _raw: aioredis.Redis | None = None

    async def driver(self, **options: Any) -> RedisDriver:
        """A new opened driver over this namespace (another "process" each time)."""
        drv = RedisDriver(self.url, prefix=self.prefix, **options)
        await drv.open()
        self.made.append(drv)
        return drv

    @property
    def raw(self) -> aioredis.Redis:
        """A plain client for looking at keys (decoded strings)."""
        if self._raw is None:
            self._raw = aioredis.Redis.from_url(self.url, decode_responses=True)
        return self._raw

    def key(self, suffix: str, queue: str = QUEUE) -> str:
        return "{" + self.prefix + queue + "}:" + suffix

    async def keys(self) -> list[str]:
        return sorted([k async for k in self.raw.scan_iter(match="{" + self.prefix + "*")])

    async def cleanup(self) -> None:
        for drv in self.made:
            with contextlib.suppress(Exception):
                await drv.close()
        keys = await self.keys()
        if keys:
            await self.raw.delete(*keys)
        await self.raw.aclose()


def item(
    payload: Any = None,
    *,
    queue: str = QUEUE,
    job: str = "j",
    delay: float = 0.0,
    unique: str | None = None,
    unique_until: UniqueUntil = "done",
    unique_for: float | None = None,
    max_retries: int = 0,
) -> PushItem:
    env = Envelope(id=new_id(), queue=queue, job=job, payload=payload,
                   max_retries=max_retries, unique=unique)
    return PushItem(env, delay, unique_until, unique_for)
