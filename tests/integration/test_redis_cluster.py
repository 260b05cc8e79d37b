"""The Redis driver on a real 3-master Redis Cluster started for this module.

The servers run on free local ports in a temporary folder and are shut down
afterwards. Skipped (with the reason) when redis-server/redis-cli are missing,
unless RUNA_REQUIRE_SERVICES=1.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from runa_runner.drivers.base import Outcome, StatsDelta
from runa_runner.drivers.redis import RedisDriver

from .redis_support import item

QUEUES = [f"mail{i}" for i in range(6)]


def free_ports(n: int) -> list[int]:
    """``n`` ports that are free, with their cluster-bus ports (+10000) free too."""
    ports: list[int] = []
    while len(ports) < n:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port + 10000 > 65535 or port in ports:
            continue
        with socket.socket() as bus:
            try:
                bus.bind(("127.0.0.1", port + 10000))
            except OSError:
                continue
        ports.append(port)
    return ports


def wait_until(check: object, what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if check():  # type: ignore[operator]
                return
        except redis.RedisError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached within {timeout}s")
        time.sleep(0.05)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[int]]:
    """Ports of a fresh 3-master cluster (no replicas)."""
    missing = [tool for tool in ("redis-server", "redis-cli") if shutil.which(tool) is None]
    if missing:
        reason = f"{' and '.join(missing)} not installed: cannot start a Redis Cluster"
        if os.environ.get("RUNA_REQUIRE_SERVICES", "") == "1":
            pytest.fail(f"{reason}; RUNA_REQUIRE_SERVICES=1 makes this a failure")
        pytest.skip(reason)
    folder: Path = tmp_path_factory.mktemp("redis-cluster")
    ports = free_ports(3)
    try:
        for port in ports:
            subprocess.run(
                ["redis-server", "--port", str(port), "--bind", "127.0.0.1",
                 "--cluster-enabled", "yes", "--cluster-config-file", f"nodes-{port}.conf",
                 "--daemonize", "yes", "--dir", str(folder), "--save", "", "--appendonly", "no",
                 "--logfile", f"redis-{port}.log", "--pidfile", str(folder / f"{port}.pid")],
                check=True, capture_output=True, timeout=20)
        for port in ports:
            wait_until(lambda p=port: redis.Redis(port=p).ping(), f"redis-server on {port}")
        subprocess.run(
            ["redis-cli", "--cluster", "create", *[f"127.0.0.1:{p}" for p in ports],
             "--cluster-replicas", "0", "--cluster-yes"],
            check=True, capture_output=True, timeout=60)
        for port in ports:
            wait_until(lambda p=port: redis.Redis(port=p).cluster("info")["cluster_state"] == "ok",
                       f"cluster_state:ok on {port}")
        yield ports
    finally:
        for port in ports:
            subprocess.run(["redis-cli", "-p", str(port), "shutdown", "nosave"],
                           capture_output=True, timeout=20, check=False)


async def drain_all(d: RedisDriver, queues: list[str], expected: int) -> list[str]:
    """Reserve and ack across ``queues`` until ``expected`` jobs ran, waiting when idle."""
    ran: list[str] = []
    deadline = time.monotonic() + 30
    while len(ran) < expected:
        assert time.monotonic() < deadline, f"only {len(ran)} of {expected} jobs ran"
        got = [r for q in queues for r in await d.reserve(q, 50, 30.0)]
        if not got:
            await d.wait(queues, 0.5)
            continue
        acks = [Outcome(r.envelope.queue, r.envelope.id, r.token, "ack") for r in got]
        assert all(await d.settle(acks))
        ran += [r.envelope.id for r in got]
    return ran


async def test_jobs_of_several_queues_flow_through_a_cluster(cluster: list[int]) -> None:
    d = RedisDriver(f"redis://127.0.0.1:{cluster[0]}/0", cluster=True,
                    prefix=f"test:{uuid.uuid4().hex}:")
    await d.open()
    try:
        client = redis.RedisCluster(host="127.0.0.1", port=cluster[0])
        owners = {client.keyslot("{" + d.prefix + q + "}:ready") for q in QUEUES}
        assert len({client.nodes_manager.get_node_from_slot(s).port for s in owners}) > 1
        ids = await d.push([item(n, queue=q, unique=f"u{n}")
                            for n in range(300) for q in [QUEUES[n % len(QUEUES)]]])
        assert len(set(ids)) == 300
        delayed = await d.push([item("later", queue=QUEUES[1], delay=0.3)])
        ran = await drain_all(d, QUEUES, 301)
        assert sorted(ran) == sorted(ids + delayed)
        for q in QUEUES:
            c = await d.counts(q)
            assert (c.pending, c.delayed, c.reserved, c.failed) == (0, 0, 0, 0)
        client.close()
    finally:
        await d.close()


async def test_a_cluster_url_and_script_flush_on_every_node(cluster: list[int]) -> None:
    d = RedisDriver(f"redis+cluster://127.0.0.1:{cluster[1]}", prefix=f"test:{uuid.uuid4().hex}:")
    assert d.describe().extra.get("cluster") == "true"
    await d.open()
    try:
        ids = await d.push([item(n, queue=q) for n, q in enumerate(QUEUES)])
        for port in cluster:
            redis.Redis(port=port).script_flush()
        # push_sync's path: a sync cluster client, in a thread, after the flush (NOSCRIPT).
        sync_ids = await asyncio.to_thread(
            d.push_blocking, [item(f"s{n}", queue=q) for n, q in enumerate(QUEUES)])
        waiter = asyncio.create_task(d.wait(["idle-a", "idle-b", "idle-c"], 10.0))
        await asyncio.sleep(0.05)
        t0 = time.monotonic()
        await d.push([item("wake", queue="idle-b")])
        await asyncio.wait_for(waiter, 5.0)
        assert time.monotonic() - t0 < 1.0
        ran = await drain_all(d, [*QUEUES, "idle-b"], 2 * len(QUEUES) + 1)
        assert set(ids) | set(sync_ids) <= set(ran)
        await d.add_stats("w", StatsDelta(succeeded=2))
        await d.heartbeat("w", "i1", 30.0)
        counts = await d.worker_counts("w")
        assert (counts.succeeded, counts.instances) == (2, 1)
    finally:
        await d.close()
