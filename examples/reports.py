"""A sync handler (run in a thread) with a pydantic payload."""

from __future__ import annotations

from pydantic import BaseModel, Field

from runa_runner import Job


class ReportRequest(BaseModel):
    """The payload of ``report.build``."""

    name: str
    rows: int = Field(default=1000, ge=1)


def build(job: Job[ReportRequest]) -> None:
    """Build a report; long sync work checks ``job.cancelled`` to stop at its timeout."""
    total = 0
    for row in range(job.payload.rows):
        if job.cancelled.is_set():
            return
        total += row
    print(f"report {job.payload.name}: {job.payload.rows} rows, checksum {total}")
