"""The handler of the schedule chaos test: one line per run, ``<scheduled_for> <job id>``,
appended to ``out/fires.<pid>`` (one small O_APPEND write: lines never interleave)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from runa_runner import Job


def record(job: Job[Any]) -> None:
    out = Path("out")
    out.mkdir(exist_ok=True)
    line = f"{job.meta['scheduled_for']} {job.id}\n".encode()
    fd = os.open(out / f"fires.{os.getpid()}", os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line)
    finally:
        os.close(fd)
