"""Idle workers block on their queues' signal lists instead of polling.

push.lua, release.lua and retry_failed.lua LPUSH a token onto ``{q}:signal``; an idle
worker waits in BLPOP on the signal lists of its queues, with a timeout cut short to
the next delayed job or lease expiry, so delayed work also starts on time. BLPOP runs
on a separate client so a blocked connection never starves the command pool.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from redis.crc import key_slot

from .connection import Client
from .keys import flow_keys, queue_keys
from .scripts import next_due, run_all

#: Below this many seconds a wait is not worth a blocking round trip.
MIN_BLOCK = 0.001


async def wait(client: Client, blocking: Client, prefix: str, queues: Sequence[str],
               timeout: float, cluster: bool) -> None:
    """Return when a signal arrives on one of ``queues``, something falls due, or at ``timeout``."""
    keys = [queue_keys(prefix, q) for q in queues]
    if not keys or timeout <= 0:
        return
    due = [d for d in await run_all(client, [next_due(k, flow_keys(prefix, q))
                                             for k, q in zip(keys, queues, strict=True)])
           if d is not None]
    if due:
        timeout = min(timeout, *due)
    if timeout < MIN_BLOCK:
        return
    signals = [k.signal for k in keys]
    if not cluster:
        await blocking.blpop(signals, timeout)
        return
    # In a cluster one BLPOP may only name keys of one slot: one per slot, first wins.
    by_slot: dict[int, list[str]] = {}
    for key in signals:
        by_slot.setdefault(key_slot(key.encode()), []).append(key)
    pops = [asyncio.ensure_future(blocking.blpop(group, timeout))
            for group in by_slot.values()]
    try:
        done, _ = await asyncio.wait(pops, return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            task.result()  # raise a connection error rather than report "woken"
    finally:
        for task in pops:
            task.cancel()  # redis-py drops a connection cancelled mid-command
        await asyncio.gather(*pops, return_exceptions=True)
