"""Connecting the Redis driver: URLs, config keys, redaction, errors, databases, event loops."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from runa_runner.drivers.redis import RedisDriver
from runa_runner.errors import ConfigError, DriverError, DriverUnavailable
from runa_runner.records import UNREADABLE

from .redis_support import QUEUE, Namespace, item


@pytest.fixture
async def ns(require_service: Callable[[str], None], redis_url: str) -> AsyncIterator[Namespace]:
    require_service("redis")
    space = Namespace(redis_url)
    yield space
    await space.cleanup()


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


def causes(exc: BaseException) -> str:
    """Every message of the exception chain, as a CLI with --debug would show them."""
    out = []
    cur: BaseException | None = exc
    while cur is not None:
        out.append(f"{type(cur).__name__}: {cur}")
        cur = cur.__cause__ or cur.__context__
    return "\n".join(out)


async def test_unreachable_server_is_driver_unavailable_with_the_password_redacted() -> None:
    port = closed_port()
    d = RedisDriver(f"redis://:hunter2@127.0.0.1:{port}/0", socket_connect_timeout=1.0)
    with pytest.raises(DriverUnavailable) as info:
        await d.open()
    message = str(info.value)
    assert message.startswith(f"redis driver: cannot reach redis://:***@127.0.0.1:{port}/0: ")
    assert "hunter2" not in causes(info.value)
    with pytest.raises(DriverUnavailable):
        await d.push([item()])
    await d.close()


async def test_describe_keeps_the_user_and_hides_the_password() -> None:
    d = RedisDriver("rediss://bob:s3cret@cache.example:6380/2", prefix="app:")
    info = d.describe()
    assert (info.type, info.target) == ("redis", "rediss://bob:***@cache.example:6380/2")
    assert info.extra == {"prefix": "app:"}
    assert "s3cret" not in repr(info)


async def test_wrong_credentials_are_a_driver_error_without_the_secret(ns: Namespace) -> None:
    url = ns.url.replace("redis://", "redis://nobody:wr0ngpass@", 1)
    d = RedisDriver(url, prefix=ns.prefix)
    with pytest.raises(DriverError) as info:
        await d.open()
    assert "wr0ngpass" not in causes(info.value)
    assert "redis://nobody:***@" in str(info.value)
    await d.close()


async def test_tls_against_a_plain_server_fails_cleanly(ns: Namespace) -> None:
    d = RedisDriver(ns.url.replace("redis://", "rediss://", 1), socket_timeout=1.0,
                    socket_connect_timeout=1.0)
    with pytest.raises(DriverUnavailable, match=r"^redis driver: cannot reach rediss://"):
        await d.open()
    await d.close()


def test_from_config_reads_the_manifest_keys(tmp_path: Path) -> None:
    d = RedisDriver.from_config({"type": "redis", "url": "redis://:pw@h:1/3", "prefix": "p:",
                                 "cluster": False, "pool_size": 4, "socket_timeout": 2.5,
                                 "socket_connect_timeout": 0.5, "x-note": "ignored"}, tmp_path)
    assert (d.prefix, d.settings.pool_size, d.settings.socket_timeout) == ("p:", 4, 2.5)
    assert d.settings.socket_connect_timeout == 0.5 and not d.settings.cluster
    assert d.describe().target == "redis://:***@h:1/3"
    assert RedisDriver.from_config({"url": "redis+cluster://h:7000"}, tmp_path).settings.cluster
    with pytest.raises(ConfigError, match="unknown key"):
        RedisDriver.from_config({"urll": "redis://h"}, tmp_path)


def test_unsupported_scheme_is_a_config_error_without_the_password() -> None:
    with pytest.raises(ConfigError) as info:
        RedisDriver("http://u:topsecret@h:1/0")
    assert "topsecret" not in str(info.value) and "'http'" in str(info.value)


async def test_the_database_in_the_url_is_used(ns: Namespace) -> None:
    url = ns.url.rsplit("/", 1)[0] + "/5"
    d = RedisDriver(url, prefix=ns.prefix)
    await d.open()
    try:
        [job_id] = await d.push([item()])
        raw5 = ns.raw.__class__.from_url(url, decode_responses=True)
        assert await raw5.exists(ns.key(f"job:{job_id}")) == 1
        assert await ns.raw.exists(ns.key(f"job:{job_id}")) == 0  # not in db 0
        assert await d.purge(QUEUE) == 1
        await raw5.aclose()
    finally:
        await d.close()


async def test_one_driver_serves_two_event_loops(ns: Namespace) -> None:
    d = await ns.driver()
    done: list[str] = []

    async def push_and_close() -> list[str]:
        ids = await d.push([item("from another loop")])
        await d.close()  # closes this loop's connections here and the test loop's there
        return ids

    def other_thread() -> None:  # what push_sync does: its own loop in another thread
        done.extend(asyncio.run(push_and_close()))

    thread = threading.Thread(target=other_thread)
    thread.start()
    await asyncio.to_thread(thread.join, 10)
    [r] = await d.reserve(QUEUE, 1, 30.0)
    assert [r.envelope.id] == done and r.envelope.payload == "from another loop"


async def test_an_unreadable_envelope_goes_to_failed_and_is_never_handed_out(
    ns: Namespace,
) -> None:
    d = await ns.driver()
    [job_id] = await d.push([item()])
    await ns.raw.hset(ns.key(f"job:{job_id}"), "env", "{not json")
    assert await d.reserve(QUEUE, 1, 30.0) == []
    [rec] = await d.list_failed(QUEUE)
    assert (rec.envelope.id, rec.envelope.job, rec.envelope.payload) == (
        job_id, UNREADABLE, "{not json")
    assert rec.error is not None and rec.error.startswith("corrupt record: envelope is not JSON")
