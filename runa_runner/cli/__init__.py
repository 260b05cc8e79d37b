"""The ``runa-runner`` command: thin argument parsing over the public API.

Each subcommand lives in its own module exposing ``add_parser(subparsers)``
(which sets ``func``) and a ``run(args) -> int``; ``main`` catches our base
error once and prints one line (the cause chain; a traceback only with --debug).
"""

from __future__ import annotations

import argparse
import importlib
import importlib.metadata
import sys
import traceback
from collections.abc import Sequence
from typing import NoReturn

from ..errors import RunaError

#: Subcommand modules, in help order.
COMMANDS = ("validate", "schema", "work", "push", "list_cmd", "failed", "job_cmd", "schedule",
            "metrics_cmd", "dashboard", "queue_cmd")


class Parser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one line on stderr (exit 2), like
    every other error of the command; ``--help`` still prints the whole usage."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def common_options() -> argparse.ArgumentParser:
    """Options accepted before or after the subcommand (DESIGN.md §7b)."""
    parent = Parser(add_help=False)
    parent.add_argument("-c", "--config", default=argparse.SUPPRESS,
                        help="manifest path (default: $RUNA_CONFIG or jobs.yaml)")
    parent.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                        help="print tracebacks")
    return parent


def build_parser() -> argparse.ArgumentParser:
    common = common_options()
    parser = Parser(
        prog="runa-runner", parents=[common],
        description="Declarative background job runner: validate, work, push, list.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {version()}",
                        help="print the installed version and exit")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMANDS:
        importlib.import_module(f"{__name__}.{name}").add_parser(sub, common)
    return parser


def version() -> str:
    """The installed distribution's version (what pip installed, not a copy in the source)."""
    try:
        return importlib.metadata.version("runa-runner")
    except importlib.metadata.PackageNotFoundError:  # run from a source tree, not installed
        from .. import __version__

        return __version__


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
    args, extra = parser.parse_known_args(argv)
    if extra:
        # IDs may follow options (`failed delete Q --json ID`): argparse stops a
        # positional list at the first option, so the rest comes back here.
        if getattr(args, "more_ids", False) and not any(e.startswith("-") for e in extra):
            args.ids = [*args.ids, *extra]
        else:
            parser.error(f"unrecognized arguments: {' '.join(extra)}")
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
