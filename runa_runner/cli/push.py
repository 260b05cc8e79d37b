"""``runa-runner push JOB --json ...|--jsonl ...``: enqueue jobs, print their ids."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ..errors import PayloadInvalid, RunaError
from ..limits import MAX_RETRY, short
from ..manifest import PushScope
from ..pushing import BATCH, PushOptions
from ..registry import Registry
from . import context
from .output import one_line
from .payloads import Lines, LinesInvalid, parse_json, read_lines, read_source
from .progress import Progress

#: Ends the message of a handler or middleware import that fails at push time.
NO_IMPORT_HINT = ("to push without importing it (the worker checks the payload when the job "
                  "runs), use push --no-import")


#: The stderr line of a push whose unique key is held: stdout has the existing job's id.
ALREADY_QUEUED = "runa-runner: note: already queued"


class PayloadRequired(RunaError):
    """A push without --json, for a job whose payload type does not accept ``{}``."""


class PushStopped(RunaError):
    """A bulk push stopped after storing some jobs; ``ids`` are those stored."""

    def __init__(self, ids: list[str], total: int, line: int, cause: BaseException) -> None:
        self.ids = ids
        super().__init__(
            f"push stopped at line {line}: {len(ids)} of {total} jobs stored (their ids are on "
            f"stdout); the batch from line {line} on may be partly stored: "
            f"{one_line(str(cause) or type(cause).__name__)}")


def add_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "push", parents=[common], help="enqueue a job and print its id",
        description="Validate the payload against the job's type and enqueue it. "
                    "Options left out inherit from the job, then the queue. Only the job's "
                    "handler and its queue's push middleware are imported.",
    )
    p.add_argument("job", metavar="JOB", help="job name from the manifest")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--json", metavar="TEXT|@FILE|-",
                     help="the payload as JSON (default: {}, when the job's payload type "
                          "accepts it)")
    src.add_argument("--jsonl", metavar="FILE|-", help="one payload per line (bulk push)")
    p.add_argument("--queue", metavar="Q", help="queue (default: the job's queue)")
    p.add_argument("--delay", metavar="D", type=context.duration, help="run no sooner than D")
    p.add_argument("--unique", metavar="KEY", help="return the existing job's id on a repeat")
    p.add_argument("--unique-until", choices=("done", "start"), help="when the unique lock ends")
    p.add_argument("--unique-for", metavar="D", type=context.duration, help="unique lock TTL")
    p.add_argument("--retry", metavar="N", type=retries, help="retries after the first failure")
    p.add_argument("--retry-delay", metavar="D", type=context.duration, help="wait between runs")
    p.add_argument("--timeout", metavar="D", type=context.duration, help="per-run time limit")
    p.add_argument("--result-ttl", metavar="D", type=context.duration,
                   help="keep the succeeded job and its result for D (job ID, result)")
    p.add_argument("--meta", metavar="K=V", type=meta_item, action="append", default=[],
                   help="add job meta (string values; repeatable)")
    p.add_argument("--no-import", action="store_true",
                   help="import no handler or middleware module: the JSON is pushed unchecked "
                        "(the worker validates it when the job runs) and the queue's push "
                        "middleware does not run")
    p.set_defaults(func=run, push_parser=p)


def retries(text: str) -> int:
    """argparse type for --retry: a whole number in the documented range (limits.py)."""
    if text.isascii() and text.isdigit() and len(text) <= 20 and int(text) <= MAX_RETRY:
        return int(text)
    raise argparse.ArgumentTypeError(
        f"expected a whole number between 0 and {MAX_RETRY:,}, got {short(text)}")


def meta_item(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected K=V, got {text!r}")
    return key, value


def run(args: argparse.Namespace) -> int:
    if args.jsonl is not None and args.unique is not None:
        args.push_parser.error("--unique applies to one job (--json), not to --jsonl")
    registry = context.load(args, import_handlers=not args.no_import,
                            scope=PushScope(args.job, args.queue, NO_IMPORT_HINT))
    spec = registry.job_spec(args.job)
    queue = args.queue or spec.queue
    context.require_cross_process(
        registry, queue, "; a job pushed from the CLI would vanish with this process. "
        f"Use a sqlite, redis, amqp or postgres driver for queue '{queue}'")
    options = {
        "queue": queue, "delay": args.delay, "unique_until": args.unique_until,
        "unique_for": args.unique_for, "retry": args.retry, "retry_delay": args.retry_delay,
        "timeout": args.timeout, "meta": dict(args.meta) or None,
        "result_ttl": args.result_ttl,
    }
    try:
        if args.jsonl is None:
            return push_one(registry, args, options)
        check = registry.pusher.checker(args.job, PushOptions(**options))
        lines = read_lines(read_source(args.jsonl, "--jsonl"), check)
        for job_id in context.run_with(registry, lambda r: push_lines(r, args.job, lines,
                                                                      options)):
            print(job_id)
        return 0
    except PushStopped as exc:
        print("\n".join(exc.ids))  # stored: the caller must know them
        raise
    except (PayloadInvalid, LinesInvalid) as exc:
        # One line per field (or per line of --jsonl), exactly as the contract shows them.
        print(str(exc), file=sys.stderr)
        return 1


def push_one(registry: Registry, args: argparse.Namespace, options: dict[str, Any]) -> int:
    """Push the ``--json`` payload (``{}`` without one); print the id, and a note when a
    unique key gave an existing job's id."""
    if args.json is None:
        payload: Any = {}
        check_empty(registry, args.job, options)
    else:
        payload = parse_json(read_source(args.json, "--json"), "--json")
    opts = PushOptions(unique=args.unique, **options)
    pushed = context.run_with(registry, lambda r: r.pusher.push_one(args.job, payload, opts))
    print(pushed.id)
    if pushed.already_queued:
        print(ALREADY_QUEUED, file=sys.stderr)
    return 0


def check_empty(registry: Registry, job: str, options: dict[str, Any]) -> None:
    """Refuse a push without --json when the job's payload type does not accept ``{}``:
    one line naming what is missing (the payload check's own messages)."""
    try:
        registry.pusher.checker(job, PushOptions(**options))({})
    except PayloadInvalid as exc:
        missing = "; ".join(f"{field}: {msg}" if field else msg for field, msg in exc.errors)
        raise PayloadRequired(f"push {job}: a payload is required (--json TEXT|@FILE|-): "
                              f"{{}} is refused: {missing}") from None


async def push_lines(
    registry: Registry, job: str, lines: Lines, options: dict[str, Any]
) -> list[str]:
    """push_many in batches (every line already checked), with progress on a terminal.

    Raises:
        PushStopped: the driver failed after some batches were stored (it holds their ids).
    """
    ids: list[str] = []
    with Progress(len(lines), "pushed") as progress:
        for start in range(0, len(lines), BATCH):
            batch = lines[start:start + BATCH]
            try:
                ids += await registry.push_many(job, [p for _, p in batch], **options)
            except RunaError as exc:
                if not ids:
                    raise  # nothing stored: the error alone says it all
                raise PushStopped(ids, len(lines), batch[0][0], exc) from exc
            progress.update(len(ids))
    return ids
