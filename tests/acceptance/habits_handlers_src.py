"""Handlers of the CLI-habits manifest (test_cli_habits.py); copied into each project.

Each appends one line per event to a file under ``out/``; the test waits on those lines.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from runa_runner import Job

OUT = Path(__file__).parent / "out"
#: Seconds a handler waits at the barrier before it gives up (the test then fails).
BARRIER_DEADLINE = 15.0


class Tag(BaseModel):
    tag: str
    together: int = 1


class Defaults(BaseModel):
    name: str = "nobody"
    rows: int = 1


class Note(BaseModel):
    text: str


def mark(name: str, line: str) -> None:
    OUT.mkdir(exist_ok=True)
    with open(OUT / name, "a", encoding="utf-8") as fh:
        fh.write(line + "\n")


def count(name: str, prefix: str) -> int:
    path = OUT / name
    if not path.exists():
        return 0
    return sum(line.startswith(prefix) for line in path.read_text("utf-8").splitlines())


async def overlap(job: Job[Tag]) -> None:
    """Start, then wait at a barrier until ``together`` handlers have started: only
    handlers that run at the same time can all pass it."""
    mark("overlap.log", f"start {job.payload.tag} {time.time()}")
    end = time.monotonic() + BARRIER_DEADLINE
    while count("overlap.log", "start ") < job.payload.together and time.monotonic() < end:
        await asyncio.sleep(0.01)
    mark("overlap.log", f"end {job.payload.tag} {time.time()}")


async def visit(job: Job[Tag]) -> None:
    mark("visits.log", f"{job.queue} {job.payload.tag}")


async def defaults(job: Job[Defaults]) -> None:
    mark("empty.log", f"defaults {job.payload.name} {job.payload.rows}")


async def needs(job: Job[Note]) -> None:
    mark("empty.log", f"needs {job.payload.text}")


async def mapping(job: Job[dict[str, Any]]) -> None:
    mark("empty.log", f"mapping {job.payload}")


async def anything(job: Job[Any]) -> None:
    mark("empty.log", f"anything {job.payload}")


async def bare(job) -> None:  # type: ignore[no-untyped-def]  # no annotation on purpose
    mark("empty.log", f"bare {job.payload}")


async def boom(job: Job[Note]) -> None:
    raise RuntimeError(f"boom {job.payload.text}")
