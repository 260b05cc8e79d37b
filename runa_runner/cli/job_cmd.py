"""``runa-runner job ID [--json]``: one stored job's state, attempts and error."""

from __future__ import annotations

import argparse
import json
from datetime import datetime
from typing import Any

from ..errors import DriverUnavailable, UnknownName
from ..inspection import Inspector
from ..registry import Registry
from ..specs import JobInfo
from . import context, output


def add_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("job", parents=[common], help="show one job",
                       description="Show a stored job (pending, delayed, reserved or failed). "
                                   "A succeeded job is deleted, so it is unknown.")
    p.add_argument("id", metavar="ID", help="the job id printed by push")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    registry = context.load(args, import_handlers=False)
    info, down = context.run_with(registry, lambda r: find(r, args.id))
    if info is None and down:
        # Not "unknown": the job may well sit on the driver we could not ask.
        dead = "; ".join(f"driver '{name}' unreachable: {output.one_line(reason)}"
                         for name, reason in down.items())
        raise DriverUnavailable(f"job '{args.id}' not found on the reachable drivers; {dead}")
    if info is None:
        raise UnknownName(f"unknown job '{args.id}'")
    if args.json:
        output.print_json(info.to_dict())
    else:
        print(describe(info))
    return 0


async def find(registry: Registry, job_id: str) -> tuple[JobInfo | None, dict[str, str]]:
    """The stored job, asked of every driver that answers, and the drivers that did not
    (name -> reason): ids are unique, so a hit anywhere is the answer."""
    inspector = Inspector(registry, outside=True)
    return await inspector.job(job_id), inspector.down


def describe(info: JobInfo) -> str:
    """The job as ``key: value`` lines, then the traceback of its last failure if any."""
    fields = info.to_dict()
    fields["attempts"] = f"{info.attempts}/{info.max_attempts}"
    del fields["max_attempts"]
    fields["payload"] = json.dumps(info.payload, ensure_ascii=False)
    fields["meta"] = json.dumps(info.meta, ensure_ascii=False)
    fields["enqueued_at"] = timestamp(info.enqueued_at)
    fields["available_at"] = timestamp(info.available_at)
    width = max(len(k) for k in fields) + 1
    lines = [f"{(k + ':').ljust(width)} {output.cell(v)}" for k, v in fields.items()]
    if info.traceback:
        lines += ["", info.traceback.rstrip()]
    return "\n".join(lines)


def timestamp(epoch: float) -> str:
    """Local time to the millisecond, with the epoch value for scripts that compare."""
    when = datetime.fromtimestamp(epoch).astimezone()
    return f"{when.isoformat(timespec='milliseconds')} ({epoch:.3f})"
