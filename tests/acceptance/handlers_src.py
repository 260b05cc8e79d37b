"""Handlers the acceptance manifests name; copied into each test's project folder.

Every handler appends one line per event to a file under ``out/`` so that a
test can wait for the event (poll with a deadline) instead of sleeping.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from pydantic import BaseModel

from runa_runner import Job

OUT = Path(__file__).parent / "out"


class Note(BaseModel):
    text: str


class Nap(BaseModel):
    tag: str
    seconds: float
    #: Later attempts return at once (a crash recovery test needs only the first to hang).
    only_first: bool = False


def mark(name: str, line: str) -> None:
    OUT.mkdir(exist_ok=True)
    with open(OUT / name, "a", encoding="utf-8") as fh:
        fh.write(line + "\n")


async def record(job: Job[Note]) -> None:
    mark("record.log", job.payload.text)


async def explode(job: Job[Note]) -> None:
    mark("explode.log", f"{job.payload.text} attempt {job.attempt}")
    if (OUT.parent / "broken").exists():
        raise RuntimeError(f"boom on attempt {job.attempt}")


async def nap(job: Job[Nap]) -> None:
    mark("nap.log", f"start {job.payload.tag} attempt {job.attempt}")
    if not (job.payload.only_first and job.attempt > 1):
        await asyncio.sleep(job.payload.seconds)
    mark("nap.log", f"end {job.payload.tag} attempt {job.attempt} at {time.time()}")


def doze(job: Job[Nap]) -> None:
    """A sync handler (run in a thread, which no stop can kill)."""
    mark("nap.log", f"start {job.payload.tag} attempt {job.attempt}")
    time.sleep(job.payload.seconds)
    mark("nap.log", f"end {job.payload.tag} attempt {job.attempt} at {time.time()}")
