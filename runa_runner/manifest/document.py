"""A loaded manifest: plain data plus the line:column of every key and value."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .problems import Problem, Severity

#: A path into the document: mapping keys and list indexes.
KeyPath = tuple[str | int, ...]
#: 1-based (line, column).
Pos = tuple[int, int]


@dataclass
class Positions:
    """Where each value and each mapping key starts, by path."""

    values: dict[KeyPath, Pos] = field(default_factory=dict)
    keys: dict[KeyPath, Pos] = field(default_factory=dict)
    #: Unquoted YAML strings holding ``${``: once expanded they are typed like YAML scalars.
    plain: set[KeyPath] = field(default_factory=set)


@dataclass
class Document:
    """The parsed file. ``body`` is the manifest proper: the whole file, or its
    top-level ``queue`` table in the seed's layout (``prefix == ("queue",)``)."""

    file: str
    base_dir: Path
    data: Any
    positions: Positions
    prefix: KeyPath = ()

    @property
    def body(self) -> Any:
        node = self.data
        for part in self.prefix:
            node = node[part]
        return node

    def position(self, path: KeyPath, *, key: bool = False) -> Pos:
        """The value's position (or its key's, with ``key``), else the nearest parent's."""
        full = self.prefix + tuple(path)
        if key and full in self.positions.keys:
            return self.positions.keys[full]
        while full:
            if full in self.positions.values:
                return self.positions.values[full]
            if full in self.positions.keys:
                return self.positions.keys[full]
            full = full[:-1]
        return self.positions.values.get((), (1, 1))

    def dotted(self, path: KeyPath) -> str:
        return ".".join(str(p) for p in self.prefix + tuple(path))

    def problem(
        self, path: KeyPath, message: str, *, key: bool = False, severity: Severity = "error"
    ) -> Problem:
        """A problem located at ``path`` (at its key with ``key``)."""
        line, column = self.position(path, key=key)
        return Problem(self.file, line, column, self.dotted(path), message, severity)
