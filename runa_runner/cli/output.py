"""Rendering results for stdout: aligned tables and JSON.

Results go to stdout and nothing else does, so commands compose in shell scripts.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

#: How an unknown value (a driver that cannot count) shows in a table.
MISSING = "-"


def cell(value: Any) -> str:
    """One table cell: None as ``-``, lists comma-joined, everything else as str."""
    if value is None:
        return MISSING
    if isinstance(value, list | tuple):
        return ",".join(str(v) for v in value) or MISSING
    return str(value)


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """Left-aligned columns separated by two spaces, headers first (no trailing blanks)."""
    cells = [list(headers), *([cell(v) for v in row] for row in rows)]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
             for r in cells]
    return "\n".join(lines)


def print_table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    print(table(headers, rows))


def print_json(data: Any) -> None:
    """Indented JSON on stdout (stable key order: as built)."""
    json.dump(data, sys.stdout, indent=2, ensure_ascii=False)
    sys.stdout.write("\n")


def warning_line(message: str) -> None:
    """One warning line on stderr: the command still succeeds, but says what it missed."""
    print(f"runa-runner: warning: {message}", file=sys.stderr)


def warn_unreachable(down: Mapping[str, str]) -> None:
    """One warning per driver that could not be reached (name -> reason)."""
    for name, reason in down.items():
        warning_line(f"driver '{name}' unreachable: {one_line(reason)}")


def one_line(text: str) -> str:
    # A client's message may span lines; stderr keeps one line per problem.
    return " ".join(text.split())
