"""Declaring the exchange and queues, once per process (and again after a reconnect).

Work and failed queues are declared through the robust channel, which
re-declares them (and the bindings) after a reconnect or a broker restart.
Holding queues are declared on the raw channel, not remembered for restore (an
expired one must stay expired), and re-declared every ``HOLDING_REFRESH``
seconds while used, which also resets their idle expiry.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from aio_pika import ExchangeType
from aio_pika.abc import AbstractRobustExchange

from . import names
from .link import Link


class Topology:
    def __init__(self, link: Link, exchange: str, prefix: str) -> None:
        self.link = link
        self.exchange_name = exchange
        self.prefix = prefix
        self._exchange: AbstractRobustExchange | None = None
        self._ready: set[str] = set()
        self._holding: dict[str, float] = {}
        self._lock = asyncio.Lock()

    async def ensure(self, queue: str) -> None:
        """The exchange, ``queue``'s work queue (bound) and its failed queue exist."""
        if queue not in self._ready:
            # Shielded: a cancelled RPC makes aiormq close the channel.
            await asyncio.shield(self._declare(queue))

    async def _declare(self, queue: str) -> None:
        async with self._lock:
            if queue in self._ready:
                return
            with self.link.guard(f"declare queue '{names.work_queue(self.prefix, queue)}'"):
                channel = self.link.robust("publisher")
                if self._exchange is None:
                    self._exchange = await channel.declare_exchange(
                        self.exchange_name, ExchangeType.DIRECT, durable=True
                    )
                name = names.work_queue(self.prefix, queue)
                work = await channel.declare_queue(name, durable=True, arguments=names.QUORUM)
                await work.bind(self._exchange, routing_key=name)
                await channel.declare_queue(
                    names.failed_queue(self.prefix, queue), durable=True, arguments=names.QUORUM
                )
            self._ready.add(queue)

    async def ensure_holding(self, queue: str, delay_ms: int) -> str:
        """Declare (or refresh) the holding queue for ``delay_ms``; return its name."""
        name = names.delay_queue(self.prefix, queue, delay_ms)
        if time.monotonic() - self._holding.get(name, -1e9) < names.HOLDING_REFRESH:
            return name
        with self.link.guard(f"declare holding queue '{name}'"):
            channel = await self.link.raw("publisher")
            await channel.queue_declare(
                name, durable=True,
                arguments=names.holding_arguments(
                    self.exchange_name, names.work_queue(self.prefix, queue), delay_ms),
            )
        self._holding[name] = time.monotonic()
        return name

    def holding_queues(self, queue: str) -> list[str]:
        """Holding queues of ``queue`` this process declared (others' are unknown to it)."""
        start = names.delay_queue(self.prefix, queue, 0)[:-1]
        return [n for n in self._holding if n.startswith(start)]

    async def message_count(self, name: str, arguments: dict[str, Any]) -> int:
        """Ready messages in a queue (declaring it, idempotently, if missing)."""
        with self.link.guard(f"count queue '{name}'"):
            channel = await self.link.raw("publisher")
            ok = await channel.queue_declare(name, durable=True, arguments=arguments)
        return int(ok.message_count or 0)
