"""``runa-runner job ID [--json] [--cancel]``: one stored job's state, attempts and error
(a kept succeeded job's result too), or its cancel."""

from __future__ import annotations

import argparse
import json
from datetime import datetime
from typing import Any

from ..errors import DriverUnavailable, JobNotFound
from ..inspection import Inspector
from ..registry import Registry
from ..results import NOT_KEPT
from ..specs import JobInfo
from . import context, output


def add_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("job", parents=[common], help="show (or cancel) one job",
                       description="Show a stored job (pending, delayed, reserved or failed, "
                                   "or succeeded while its result_ttl keeps it). A succeeded "
                                   "job without result_ttl is deleted, so it is unknown.")
    p.add_argument("id", metavar="ID", help="the job id printed by push")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--cancel", action="store_true",
                   help="delete the job if it waits; if it runs, stop it at its next lease "
                        "renewal (it fails with 'cancelled', no retry)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    registry = context.load(args, import_handlers=False)
    if args.cancel:
        return cancel(registry, args.id, args.json)
    info, down = context.run_with(registry, lambda r: find(r, args.id))
    if info is None and down:
        # Not "unknown": the job may well sit on the driver we could not ask.
        dead = "; ".join(f"driver '{name}' unreachable: {output.one_line(reason)}"
                         for name, reason in down.items())
        raise DriverUnavailable(f"job '{args.id}' not found on the reachable drivers; {dead}")
    if info is None:
        raise JobNotFound(f"job '{args.id}': {NOT_KEPT}")
    if args.json:
        output.print_json(info.to_dict())
    else:
        print(describe(info))
    return 0


#: What ``job ID --cancel`` prints for each outcome of a cancel.
_CANCELLED = {
    "deleted": "job {id} deleted (it had not started)",
    "requested": "job {id} cancel requested: its run stops at its next lease renewal",
}


def cancel(registry: Registry, job_id: str, as_json: bool) -> int:
    """Cancel one job; one line (or ``{"id", "cancel"}``) saying what happened."""
    done: str = context.run_with(registry, lambda r: r.cancel(job_id))
    if as_json:
        output.print_json({"id": job_id, "cancel": done})
    else:
        print(_CANCELLED[done].format(id=job_id))
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
    if "result" in fields:
        fields["result"] = json.dumps(info.result, ensure_ascii=False)
        fields["finished_at"] = timestamp(info.finished_at or 0.0)
    width = max(len(k) for k in fields) + 1
    lines = [f"{(k + ':').ljust(width)} {output.cell(v)}" for k, v in fields.items()]
    if info.traceback:
        lines += ["", info.traceback.rstrip()]
    return "\n".join(lines)


def timestamp(epoch: float) -> str:
    """Local time to the millisecond, with the epoch value for scripts that compare."""
    when = datetime.fromtimestamp(epoch).astimezone()
    return f"{when.isoformat(timespec='milliseconds')} ({epoch:.3f})"
