"""The ``runa-runner`` command: thin argument parsing over the public API.

Each subcommand lives in its own module exposing ``add_parser(subparsers)``
(which sets ``func``) and a ``run(args) -> int``; ``main`` catches our base
error once and prints one line (the cause chain; a traceback only with --debug).
"""

from __future__ import annotations

import argparse
import importlib
import sys
import traceback
from collections.abc import Sequence

from ..errors import RunaError

#: Subcommand modules, in help order.
COMMANDS = ("validate", "schema", "work", "push", "list_cmd", "failed", "job_cmd")


def common_options() -> argparse.ArgumentParser:
    """Options accepted before or after the subcommand (DESIGN.md §7b)."""
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument("-c", "--config", default=argparse.SUPPRESS,
                        help="manifest path (default: $RUNA_CONFIG or jobs.yaml)")
    parent.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                        help="print tracebacks")
    return parent


def build_parser() -> argparse.ArgumentParser:
    common = common_options()
    parser = argparse.ArgumentParser(
        prog="runa-runner", parents=[common],
        description="Declarative background job runner: validate, work, push, list.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMANDS:
        importlib.import_module(f"{__name__}.{name}").add_parser(sub, common)
    return parser


def format_error(exc: BaseException) -> str:
    """The error and its cause chain on one line."""
    parts = [str(exc) or type(exc).__name__]
    seen = {id(exc)}
    cause = exc.__cause__
    while cause is not None and id(cause) not in seen:
        seen.add(id(cause))
        text = str(cause) or type(cause).__name__
        if text not in parts[-1]:
            parts.append(text)
        cause = cause.__cause__
    return ": ".join(parts)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    debug = bool(getattr(args, "debug", False))
    try:
        code: int = args.func(args)
        return code
    except RunaError as exc:
        if debug:
            traceback.print_exc()
        # A manifest with several problems gives one complete error line per problem.
        for line in format_error(exc).splitlines() or [""]:
            print(f"runa-runner: error: {line}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 1
