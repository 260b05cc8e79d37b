"""The SQLite driver behaves exactly like the memory driver (the reference semantics).

Seeded random sequences of pushes (unique keys, delays, unique_until), reserves,
settlements (ack, release with and without giving the attempt back, fail, stale
tokens), renewals, deletes, retries and purges run on both drivers; every result
and the observable state (counts, failed list, each job's record) must match.
Leases and delays are long, so no result depends on how fast the machine is.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any, Literal

import pytest

from runa_runner.drivers.base import Driver, JobRecord, Outcome, PushItem
from runa_runner.drivers.memory import MemoryDriver
from runa_runner.drivers.sqlite import SQLiteDriver
from runa_runner.job import Envelope, new_id

QUEUE = "parity"
LONG = 3600.0
Kind = Literal["ack", "release", "fail"]
KINDS: tuple[Kind, ...] = ("ack", "release", "fail")


class Pair:
    """The two drivers and, per driver, the last token each job was reserved with."""

    def __init__(self, sqlite: SQLiteDriver) -> None:
        self.drivers: tuple[Driver, Driver] = (MemoryDriver(), sqlite)
        self.tokens: tuple[dict[str, str], dict[str, str]] = ({}, {})
        self.held: set[str] = set()
        self.known: list[str] = []

    async def both(self, call: str, *args: Any) -> Any:
        a = await getattr(self.drivers[0], call)(*args)
        b = await getattr(self.drivers[1], call)(*args)
        assert a == b, f"{call}{args}: memory {a!r} != sqlite {b!r}"
        return a


def push_items(rng: random.Random) -> list[PushItem]:
    out = []
    for _ in range(rng.randint(1, 3)):
        env = Envelope(new_id(), QUEUE, rng.choice(["a", "b"]), {"n": rng.random()},
                       max_retries=rng.randint(0, 2), unique=rng.choice([None, None, "k1", "k2"]))
        out.append(PushItem(env, delay=rng.choice([0.0, 0.0, LONG]),
                            unique_until=rng.choice(["done", "start"]),
                            unique_for=rng.choice([None, LONG])))
    return out


async def step(pair: Pair, rng: random.Random) -> None:
    op = rng.choice(["push", "push", "reserve", "reserve", "settle", "settle", "stale",
                     "renew", "delete", "retry", "purge_failed"])
    if op == "push":
        ids = await pair.both("push", push_items(rng))
        pair.known.extend(i for i in ids if i not in pair.known)
    elif op == "reserve":
        count = rng.randint(1, 3)
        got = [await d.reserve(QUEUE, count, LONG) for d in pair.drivers]
        views = [[(r.envelope.id, r.envelope.attempt, r.envelope.payload) for r in g] for g in got]
        assert views[0] == views[1]
        for tokens, g in zip(pair.tokens, got, strict=True):
            tokens.update({r.envelope.id: r.token for r in g})
        pair.held.update(v[0] for v in views[0])
    elif op in ("settle", "stale", "renew") and (pair.held or op == "stale") and pair.tokens[0]:
        await settle_step(pair, rng, op)
    elif op == "delete" and pair.known:
        await pair.both("delete", QUEUE, rng.choice(pair.known))
    elif op == "retry":
        ids = None if rng.random() < 0.5 else rng.sample(pair.known, min(2, len(pair.known)))
        await pair.both("retry_failed", QUEUE, ids)
    elif op == "purge_failed":
        await pair.both("purge_failed", QUEUE, rng.choice([None, 0.0]))


async def settle_step(pair: Pair, rng: random.Random, op: str) -> None:
    pool = sorted(pair.held) if op != "stale" else sorted(set(pair.tokens[0]) - pair.held)
    if not pool:
        return
    job_id = rng.choice(pool)
    kind: Kind = rng.choice(KINDS)
    delay, give_back = rng.choice([0.0, LONG]), rng.random() < 0.5
    results = []
    for driver, tokens in zip(pair.drivers, pair.tokens, strict=True):
        if op == "renew":
            results.append(await driver.renew(QUEUE, job_id, tokens[job_id], LONG))
            continue
        outcome = Outcome(QUEUE, job_id, tokens[job_id], kind,
                          delay=delay, error=f"{kind}!",
                          traceback="tb" if kind == "fail" else None,
                          give_back_attempt=give_back)
        results.append((await driver.settle([outcome]))[0])
    assert results[0] == results[1], f"{op} {job_id}: {results}"
    if op == "settle":
        pair.held.discard(job_id)


def view(rec: JobRecord | None) -> Any:
    if rec is None:
        return None
    env = rec.envelope
    return (env.id, env.job, env.payload, env.attempt, env.unique, rec.state, rec.error,
            rec.traceback, rec.failed_at is not None)


async def check_state(pair: Pair) -> None:
    await pair.both("counts", QUEUE)
    failed = [[view(r) for r in await d.list_failed(QUEUE)] for d in pair.drivers]
    assert failed[0] == failed[1]
    for job_id in pair.known:
        recs = [view(await d.get(QUEUE, job_id)) for d in pair.drivers]
        assert recs[0] == recs[1], job_id


@pytest.mark.parametrize("seed", range(12))
async def test_sqlite_matches_memory(seed: int, tmp_path: Path) -> None:
    rng = random.Random(seed)
    sqlite = SQLiteDriver(tmp_path / "parity.db")
    pair = Pair(sqlite)
    for d in pair.drivers:
        await d.open()
    try:
        for i in range(80):
            await step(pair, rng)
            if i % 10 == 9:
                await check_state(pair)
        await check_state(pair)
        await pair.both("purge", QUEUE)
        await check_state(pair)
    finally:
        await sqlite.close()
