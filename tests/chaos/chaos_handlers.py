"""Handlers of the chaos manifests; copied into each test's project folder.

Every run appends ``<job id> <attempt>`` to ``out/runs.<pid>``, opened with
O_APPEND: a line is far below PIPE_BUF, so appends from many tasks never
interleave, and a SIGKILL loses at most a run that had not written yet.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from runa_runner import Job

OUT = Path(__file__).parent / "out"
_fd: int | None = None


def _out() -> int:
    global _fd
    if _fd is None:
        OUT.mkdir(exist_ok=True)
        _fd = os.open(OUT / f"runs.{os.getpid()}", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    return _fd


async def record(job: Job[Any]) -> None:
    """Record the run, then take a moment so that kills find jobs in flight."""
    os.write(_out(), f"{job.id} {job.attempt}\n".encode())
    await asyncio.sleep(0.002)


class Item(BaseModel):
    n: int
    pad: str = ""


async def typed(job: Job[Item]) -> None:
    """A job with a payload type, so a foreign producer's bad payload can be refused."""
    os.write(_out(), f"{job.id} {job.attempt}\n".encode())
