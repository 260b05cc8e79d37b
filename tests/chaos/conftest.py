"""Fixtures of the chaos tier: a project per durable driver, with the server state cleaned up.

Each test gets its own SQLite file, Redis key prefix, RabbitMQ names or PostgreSQL schema
(never a FLUSHALL).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from .harness import Project, Target, amqp_target, postgres_target, redis_target, sqlite_target

DRIVERS = ("sqlite", "redis", "amqp", "postgres")


def drop_redis_keys(url: str, prefix: str) -> None:
    import redis

    client = redis.Redis.from_url(url)
    try:
        batch = []
        for key in client.scan_iter(match="{" + prefix + "*", count=1000):
            batch.append(key)
            if len(batch) >= 1000:
                client.delete(*batch)
                batch = []
        if batch:
            client.delete(*batch)
    finally:
        client.close()


def drop_amqp_names(url: str, tag: str, queues: list[str], workers: list[str]) -> None:
    import aio_pika

    async def drop() -> None:
        conn = await aio_pika.connect(url)
        try:
            names = [f"chaos.{tag}.{q}" for q in queues]
            names += [f"chaos.{tag}.{q}.failed" for q in queues]
            names += [f"chaos.{tag}._stats.{w}" for w in workers]
            names += [f"chaos.{tag}._workers.{w}" for w in workers]
            for name in names:
                # An absent queue closes the channel with an error: nothing to drop.
                channel = await conn.channel()
                with contextlib.suppress(Exception):
                    await channel.queue_delete(name)
            channel = await conn.channel()
            with contextlib.suppress(Exception):
                await channel.exchange_delete(f"chaos-{tag}")
        finally:
            await conn.close()

    asyncio.run(drop())


def drop_postgres_schema(url: str, schema: str) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))


@pytest.fixture
def make_target(
    require_service: Callable[[str], None], redis_url: str, amqp_url: str, postgres_url: str,
) -> Iterator[Callable[[str], Target]]:
    """``make_target("redis")``: a fresh place for jobs; its server state is dropped after."""
    made: list[Target] = []

    def make(kind: str) -> Target:
        if kind == "sqlite":
            target = sqlite_target()
        elif kind == "redis":
            require_service("redis")
            target = redis_target(redis_url)
        elif kind == "postgres":
            require_service("postgres")
            target = postgres_target(postgres_url)
        else:
            require_service("amqp")
            target = amqp_target(amqp_url)
        made.append(target)
        return target

    yield make
    for target in made:
        if target.kind == "redis":
            drop_redis_keys(redis_url, f"chaos:{target.tag}:")
        elif target.kind == "amqp":
            drop_amqp_names(amqp_url, target.tag, ["chaos", "poison"], ["w"])
        elif target.kind == "postgres":
            drop_postgres_schema(postgres_url, f"chaos_{target.tag}")


@pytest.fixture
def project_for(tmp_path: Path, make_target: Callable[[str], Target]) -> Iterator[
        Callable[..., Project]]:
    """``project_for("sqlite", retry=3)``: a chaos project; its workers are killed at teardown."""
    made: list[Project] = []

    def make(kind: str, **options: object) -> Project:
        root = tmp_path / f"{kind}-{len(made)}"
        root.mkdir()
        project = Project(root, make_target(kind), **options)  # type: ignore[arg-type]
        made.append(project)
        return project

    yield make
    for project in made:
        project.close()
