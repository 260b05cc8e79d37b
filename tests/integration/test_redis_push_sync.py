"""push_sync on Redis runs in the caller's thread on a sync client (no event loop hop)."""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import Callable

import pytest

import runa_runner as rr
from runa_runner.drivers.redis import RedisDriver

from .redis_support import QUEUE, Namespace


def registry(url: str, prefix: str) -> rr.Registry:
    r = rr.Registry()
    r.driver("redis", RedisDriver(url, prefix=prefix))
    r.queue(QUEUE, driver="redis", workers=["w"])
    r.worker("w")
    r.job("mail.send", lambda job: None, queue=QUEUE)
    return r.freeze()


async def test_push_sync_stores_the_job_without_a_helper_loop(
    require_service: Callable[[str], None], redis_url: str,
) -> None:
    require_service("redis")
    ns = Namespace(redis_url)
    reg = registry(redis_url, ns.prefix)
    try:
        def producer() -> list[str]:
            first = reg.push_sync("mail.send", {"to": "a@b.c"}, unique="mail:a@b.c")
            again = reg.push_sync("mail.send", {"to": "a@b.c"}, unique="mail:a@b.c")
            other = reg.push_sync("mail.send", {"to": "c@d.e"}, delay=60)
            return [first, again, other]

        helpers = {t for t in threading.enumerate() if t.name == "runa-sync"}
        first, again, other = await asyncio.to_thread(producer)
        assert first == again != other
        # No helper loop thread was started for these pushes (other tests may have left one).
        assert {t for t in threading.enumerate() if t.name == "runa-sync"} <= helpers
        info = await reg.job_info(first)
        assert info is not None and (info.state, info.payload) == ("pending", {"to": "a@b.c"})
        delayed = await reg.job_info(other)
        assert delayed is not None and delayed.state == "delayed"
    finally:
        await reg.close()
        await ns.cleanup()


def test_push_sync_to_an_unreachable_redis_is_driver_unavailable() -> None:
    reg = registry("redis://127.0.0.1:1/0", "test:")
    with pytest.raises(rr.DriverUnavailable, match=re.escape("cannot reach redis://127.0.0.1:1/0")):
        reg.push_sync("mail.send", {"to": "a@b.c"})
