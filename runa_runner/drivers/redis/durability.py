"""The server settings jobs depend on: a Redis that evicts keys under memory pressure
silently deletes queued jobs, so ``open()`` warns when ``maxmemory-policy`` is not
``noeviction`` (see the README's "Durability on Redis").
"""

from __future__ import annotations

import logging
from typing import Any

from redis import exceptions as rx

log = logging.getLogger("runa_runner.redis")

#: The only policy under which Redis never drops a key to free memory.
SAFE_POLICY = "noeviction"


async def eviction_policy(client: Any) -> str | None:
    """The server's ``maxmemory-policy``, or None when it cannot be read (CONFIG disabled)."""
    try:
        reply = await client.config_get("maxmemory-policy")
    except (rx.RedisError, rx.RedisClusterException):
        return None
    if isinstance(reply, dict):
        value = reply.get("maxmemory-policy")
        if isinstance(value, dict):  # a cluster client answers per node
            value = next(iter(value.values()), None)
        return value if isinstance(value, str) else None
    return None


async def warn_if_evicting(client: Any, target: str) -> None:
    """Log one warning when the server may evict job keys."""
    policy = await eviction_policy(client)
    if policy is not None and policy != SAFE_POLICY:
        log.warning("redis driver: %s has maxmemory-policy %s: under memory pressure Redis "
                    "deletes keys, queued jobs included; set maxmemory-policy %s",
                    target, policy, SAFE_POLICY)
