"""``runa-runner push JOB --json ...|--jsonl ...``: enqueue jobs, print their ids."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ..drivers.base import Capability
from ..errors import ConfigError, PayloadInvalid
from ..pushing import BATCH
from ..registry import Registry
from . import context
from .payloads import LinesInvalid, parse_json, read_lines, read_source
from .progress import Progress


def add_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "push", parents=[common], help="enqueue a job and print its id",
        description="Validate the payload against the job's type and enqueue it. "
                    "Options left out inherit from the job, then the queue.",
    )
    p.add_argument("job", metavar="JOB", help="job name from the manifest")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--json", metavar="TEXT|@FILE|-", help="the payload as JSON")
    src.add_argument("--jsonl", metavar="FILE|-", help="one payload per line (bulk push)")
    p.add_argument("--queue", metavar="Q", help="queue (default: the job's queue)")
    p.add_argument("--delay", metavar="D", type=context.duration, help="run no sooner than D")
    p.add_argument("--unique", metavar="KEY", help="return the existing job's id on a repeat")
    p.add_argument("--unique-until", choices=("done", "start"), help="when the unique lock ends")
    p.add_argument("--unique-for", metavar="D", type=context.duration, help="unique lock TTL")
    p.add_argument("--retry", metavar="N", type=retries, help="retries after the first failure")
    p.add_argument("--retry-delay", metavar="D", type=context.duration, help="wait between runs")
    p.add_argument("--timeout", metavar="D", type=context.duration, help="per-run time limit")
    p.add_argument("--meta", metavar="K=V", type=meta_item, action="append", default=[],
                   help="add job meta (string values; repeatable)")
    p.set_defaults(func=run, push_parser=p)


def retries(text: str) -> int:
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"expected a whole number >= 0, got {text!r}")
    return int(text)


def meta_item(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected K=V, got {text!r}")
    return key, value


def run(args: argparse.Namespace) -> int:
    if args.jsonl is not None and args.unique is not None:
        args.push_parser.error("--unique applies to one job (--json), not to --jsonl")
    registry = context.load(args)
    spec = registry.job_spec(args.job)
    queue = args.queue or spec.queue
    check_cross_process(registry, queue)
    options = {
        "queue": queue, "delay": args.delay, "unique_until": args.unique_until,
        "unique_for": args.unique_for, "retry": args.retry, "retry_delay": args.retry_delay,
        "timeout": args.timeout, "meta": dict(args.meta) or None,
    }
    try:
        if args.json is not None:
            payload = parse_json(read_source(args.json, "--json"), "--json")
            job_id = context.run_with(
                registry, lambda r: r.push(args.job, payload, unique=args.unique, **options))
            print(job_id)
            return 0
        payloads = read_lines(read_source(args.jsonl, "--jsonl"), spec)
        for job_id in context.run_with(registry, lambda r: push_lines(r, args.job, payloads,
                                                                      options)):
            print(job_id)
        return 0
    except (PayloadInvalid, LinesInvalid) as exc:
        # One line per field (or per line of --jsonl), exactly as the contract shows them.
        print(str(exc), file=sys.stderr)
        return 1


def check_cross_process(registry: Registry, queue: str) -> None:
    """Refuse a queue whose driver lives only in this process: the job would vanish."""
    driver_name = registry.queue_spec(queue).driver
    driver = registry.drivers[driver_name]
    if Capability.CROSS_PROCESS not in driver.capabilities:
        raise ConfigError(
            f"queue '{queue}' uses the in-process {driver.type_name} driver '{driver_name}'; "
            f"a job pushed from the CLI would vanish with this process. "
            f"Use a sqlite, redis, amqp or postgres driver for queue '{queue}'"
        )


async def push_lines(
    registry: Registry, job: str, payloads: list[Any], options: dict[str, Any]
) -> list[str]:
    """push_many in batches (payloads already validated), with progress on a terminal."""
    ids: list[str] = []
    with Progress(len(payloads), "pushed") as progress:
        for start in range(0, len(payloads), BATCH):
            ids += await registry.push_many(job, payloads[start:start + BATCH], **options)
            progress.update(len(ids))
    return ids
