"""A problem found in a manifest: where it is, what is wrong, and how bad."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any, Literal

from ..limits import short
from ..suggest import did_you_mean as did_you_mean  # the manifest checks' import path

Severity = Literal["error", "warning"]


def one_line(text: str) -> str:
    """``text`` with control characters escaped: a key holding a newline stays on one line."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii")
                   for c in text)


@dataclass(frozen=True, slots=True)
class Problem:
    """One line of ``validate`` output.

    ``line`` and ``column`` are 1-based and point at the offending value (at the
    key when the key itself is wrong); ``path`` is dotted (``queues.critical.driver``)
    and empty for problems about the whole file.
    """

    file: str
    line: int
    column: int
    path: str
    message: str
    severity: Severity = "error"

    def format(self) -> str:
        """``FILE:LINE:COL: PATH: message``; warnings read ``FILE:LINE:COL: warning: PATH: ...``."""
        where = f"{self.file}:{self.line}:{self.column}: "
        if self.severity == "warning":
            where += "warning: "
        text = f"{where}{self.path}: {self.message}" if self.path else where + self.message
        return one_line(text)

    def to_dict(self) -> dict[str, Any]:
        """The ``--format json`` object: file, line, column, path, message, severity."""
        return asdict(self)

    @property
    def is_error(self) -> bool:
        return self.severity == "error"


def show(value: Any) -> str:
    """A value as the manifest author wrote it, for ``got ...`` in messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, int | float):
        return short(value)  # repr() of an integer of 5,000 digits raises ValueError
    return f"a {type(value).__name__}"


def sort_problems(problems: Iterable[Problem]) -> list[Problem]:
    """By file position, errors before warnings at the same place, without duplicates."""
    unique = dict.fromkeys(problems)
    return sorted(unique, key=lambda p: (p.line, p.column, p.severity, p.path, p.message))
