"""``runa-runner job ID [--json]``: one stored job's state, attempts and error."""

from __future__ import annotations

import argparse
import json
from datetime import datetime
from typing import Any

from ..errors import UnknownName
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
    info = context.run_with(registry, lambda r: r.job_info(args.id))
    if info is None:
        raise UnknownName(f"unknown job '{args.id}'")
    if args.json:
        output.print_json(info.to_dict())
    else:
        print(describe(info))
    return 0


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
