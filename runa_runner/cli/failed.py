"""``runa-runner failed list|retry|delete|purge QUEUE [ID...]``: failed-job recovery."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from typing import Any

from ..inspection import Inspector
from ..specs import JobInfo
from . import context, output

LIST_HEADERS = ("ID", "JOB", "ATTEMPTS", "ENQUEUED", "FAILED AT", "ERROR")
#: Jobs fetched per page by ``failed list``.
PAGE = 1000


def add_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "failed", parents=[common], help="inspect and recover failed jobs",
        description="list: show failed jobs; retry: move them back to pending (attempts "
                    "reset); delete: remove them; purge: remove all (or --older-than D).",
    )
    p.add_argument("action", choices=("list", "retry", "delete", "purge"))
    p.add_argument("queue", metavar="QUEUE")
    p.add_argument("ids", metavar="ID", nargs="*", help="job ids (retry, delete)")
    p.add_argument("--all", action="store_true",
                   help="retry or delete every failed job of the queue")
    p.add_argument("--older-than", metavar="D", type=context.duration,
                   help="purge only jobs that failed more than D ago")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=run, failed_parser=p, more_ids=True)


def run(args: argparse.Namespace) -> int:
    usage_problem = check_usage(args)
    if usage_problem:
        args.failed_parser.error(usage_problem)  # exits 2
    registry = context.load(args, import_handlers=False)
    # An empty list would be a guess: an in-process driver's jobs live in another process.
    context.require_cross_process(
        registry, args.queue, ": its failed jobs live only in the process that runs it")
    action = {"list": list_failed, "retry": retry, "delete": delete, "purge": purge}
    return context.run_with(
        registry, lambda r: action[args.action](Inspector(r, outside=True), args))


def check_usage(args: argparse.Namespace) -> str | None:
    """Which combinations make no sense (a usage error, exit 2), or None."""
    if args.action in ("retry", "delete") and not args.ids and not args.all:
        return f"failed {args.action}: give job IDs or --all"
    if args.ids and args.all:
        return f"failed {args.action}: give job IDs or --all, not both"
    if args.ids and args.action in ("list", "purge"):
        return f"failed {args.action}: takes no job IDs"
    if args.older_than is not None and args.action != "purge":
        return "--older-than applies to 'failed purge' only"
    return None


async def list_failed(api: Inspector, args: argparse.Namespace) -> int:
    jobs: list[JobInfo] = []
    while True:
        page = await api.failed(args.queue, limit=PAGE, offset=len(jobs))
        jobs += page
        if len(page) < PAGE:
            break
    if args.json:
        output.print_json([{**j.to_dict(), "failed_at": j.failed_at, "traceback": j.traceback}
                           for j in jobs])
        return 0
    output.print_table(LIST_HEADERS, (
        (j.id, j.job, f"{j.attempts}/{j.max_attempts}", _short_time(j.enqueued_at),
         _utc(j.failed_at), _first_line(j.error)) for j in jobs
    ))
    return 0


async def retry(api: Inspector, args: argparse.Namespace) -> int:
    ids = None if args.all else list(args.ids)
    count = await api.retry_failed(args.queue, ids)
    report(args, "retried", count)
    if ids is not None and count < len(ids):
        # Not an error (DESIGN §6: exit 0): the jobs asked for are all not failed now.
        _warn(f"{len(ids) - count} of the given jobs are not failed jobs of "
                            f"queue '{args.queue}'")
    return 0


async def delete(api: Inspector, args: argparse.Namespace) -> int:
    if args.all:
        report(args, "deleted", await api.purge_failed(args.queue, None))
        return 0
    unknown = [i for i in args.ids if not await api.delete_failed(args.queue, i)]
    report(args, "deleted", len(args.ids) - len(unknown))
    for job_id in unknown:
        _warn(
            f"no job '{job_id}' among the failed jobs of queue '{args.queue}'")
    return 0


async def purge(api: Inspector, args: argparse.Namespace) -> int:
    cutoff = None if args.older_than is None else context.ago(args.older_than)
    report(args, "purged", await api.purge_failed(args.queue, cutoff))
    return 0


def report(args: argparse.Namespace, verb: str, count: int) -> None:
    if args.json:
        print(json.dumps({verb: count}))
    else:
        print(f"{verb} {count} failed job{'' if count == 1 else 's'} of queue '{args.queue}'")


def _warn(message: str) -> None:
    print(f"runa-runner: warning: {message}", file=sys.stderr)


def _first_line(text: str | None) -> str | None:
    return text.strip().splitlines()[0] if text and text.strip() else text


def _utc(epoch: float | None) -> str | None:
    """ISO-8601 in UTC to the second (``2027-03-28T01:00:00Z``): one meaning on every host."""
    if epoch is None:
        return None
    return datetime.fromtimestamp(epoch, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _short_time(epoch: float) -> str:
    return datetime.fromtimestamp(epoch).strftime("%Y-%m-%d %H:%M:%S")
