"""``runa-runner validate``: schema, references and handler imports of the manifest.

Problems go to stdout, one per line (they are the command's result):
``FILE:LINE:COL: PATH: message`` for errors and ``FILE:LINE:COL: warning: PATH: message``
for warnings. Exit 0 when there is no error (warnings allowed), 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from ..manifest import check_manifest
from ..manifest.explain import explain, explain_rows
from ..manifest.problems import Problem
from ..manifest.view import View


def add_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    parser = sub.add_parser(
        "validate", parents=[common], help="check the manifest (schema, references, imports)",
        description="Check the manifest: JSON Schema and references in one pass, then handler "
        "imports. Prints one problem per line; exit 0 valid (warnings allowed), 1 invalid.",
    )
    parser.add_argument("--no-import", action="store_true",
                        help="do not import handlers and middleware")
    parser.add_argument("--format", choices=("text", "json"), default="text",
                        help="text lines, or a JSON list of {file, line, column, path, message, "
                        "severity} (default text)")
    parser.add_argument("--explain", metavar="JOB",
                        help="print each effective setting of JOB and where it comes from "
                        "(with --format json: a list of {setting, value, source})")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    path = getattr(args, "config", None)
    problems, doc = check_manifest(path, import_handlers=not args.no_import)
    valid = doc is not None and not any(p.is_error for p in problems)
    if doc is not None and valid and args.explain and args.format == "json":
        rows = explain_rows(View(doc.body), args.explain)
        print(json.dumps([{"setting": k, "value": v, "source": s} for k, v, s in rows], indent=2))
        return 0
    if args.format == "json":
        print(json.dumps([p.to_dict() for p in problems], indent=2))
    else:
        for problem in problems:
            print(problem.format())
    if not valid or doc is None:
        return 1
    if args.explain:
        print(explain(View(doc.body), args.explain))
    elif args.format == "text":
        print(summary(doc.file, View(doc.body), problems))
    return 0


def summary(file: str, view: View, problems: list[Problem]) -> str:
    """``jobs.yaml: ok (2 drivers, 2 queues, 2 workers, 2 jobs)``."""
    def count(n: int, word: str) -> str:
        return f"{n} {word}{'' if n == 1 else 's'}"

    drivers = len([d for d in view.drivers if d in view.body.get("drivers", {})])
    parts = [count(drivers, "driver"), count(len(view.queues), "queue"),
             count(len(view.workers), "worker"), count(len(view.jobs), "job")]
    if view.schedules:
        parts.append(count(len(view.schedules), "schedule"))
    warnings = len(problems)
    tail = f", {count(warnings, 'warning')}" if warnings else ""
    return f"{file}: ok ({', '.join(parts)}{tail})"
