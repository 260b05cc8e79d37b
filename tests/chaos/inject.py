"""Writing jobs the way a foreign producer would: raw rows, keys and messages in each
driver's own layout (``drivers/sqlite/sql/schema.sql``, ``drivers/redis/keys.py``,
``drivers/amqp/names.py``, ``drivers/postgres/sql/schema.sql``), bypassing every check
``push`` makes.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from pathlib import Path
from typing import Any

from runa_runner.job import new_id

from .harness import Project

QUEUE = "chaos"


def envelope(job: str, payload: Any, job_id: str | None = None) -> str:
    """A well-formed envelope (DESIGN.md §8) as a producer in another language writes it."""
    now = time.time()
    return json.dumps({
        "id": job_id or new_id(), "queue": QUEUE, "job": job, "payload": payload,
        "attempt": 0, "max_retries": 0, "retry_delay": 0, "timeout": None, "meta": {},
        "unique": None, "enqueued_at": now, "available_at": now,
    })


def inject(project: Project, bodies: dict[str, str], redis_url: str, amqp_url: str,
           postgres_url: str = "") -> None:
    """Store each ``job id -> raw body`` as a due job of queue ``chaos``."""
    kind = project.target.kind
    if kind == "sqlite":
        _sqlite(project.root / "queue.db", bodies)
    elif kind == "redis":
        _redis(redis_url, f"chaos:{project.target.tag}:", bodies)
    elif kind == "postgres":
        _postgres(postgres_url, f"chaos_{project.target.tag}", bodies)
    else:
        asyncio.run(_amqp(amqp_url, f"chaos.{project.target.tag}.{QUEUE}", bodies))


def _sqlite(path: Path, bodies: dict[str, str]) -> None:
    with sqlite3.connect(path) as db:
        db.executemany(
            "INSERT INTO jobs (id, queue, job, state, envelope, available_at) "
            "VALUES (?, ?, ?, 'pending', ?, ?)",
            [(job_id, QUEUE, "?", body, time.time()) for job_id, body in bodies.items()])
    db.close()


def _postgres(url: str, schema: str, bodies: dict[str, str]) -> None:
    import psycopg
    from psycopg import sql

    insert = sql.SQL(
        "INSERT INTO {}.jobs (id, queue, state, envelope, enqueued_at, available_at, "
        "max_attempts) VALUES (%s, %s, 'pending', %s, %s, %s, 1)").format(sql.Identifier(schema))
    now = time.time()
    with psycopg.connect(url, autocommit=True) as conn:
        for job_id, body in bodies.items():
            conn.execute(insert, (job_id, QUEUE, body, now, now))


def _redis(url: str, prefix: str, bodies: dict[str, str]) -> None:
    import redis

    tag = "{" + prefix + QUEUE + "}"
    client = redis.Redis.from_url(url)
    try:
        now = time.time()
        for job_id, body in bodies.items():
            client.hset(f"{tag}:job:{job_id}", mapping={
                "env": body, "attempt": 0, "max": 1, "enq": now, "avail": now,
                "state": "pending"})
            client.zadd(f"{tag}:ready", {job_id: now})
    finally:
        client.close()


async def _amqp(url: str, work_queue: str, bodies: dict[str, str]) -> None:
    import aio_pika

    conn = await aio_pika.connect(url)
    try:
        channel = await conn.channel(publisher_confirms=True)
        for job_id, body in bodies.items():
            await channel.default_exchange.publish(
                aio_pika.Message(body.encode(), message_id=job_id,
                                 delivery_mode=aio_pika.DeliveryMode.PERSISTENT),
                routing_key=work_queue, mandatory=True)
    finally:
        await conn.close()
