"""Read YAML, TOML or JSON into a :class:`Document`, keeping every position.

A syntax error, an empty file or a top-level list becomes one :class:`Problem`
(raised as :class:`SourceError`), never a traceback.
"""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path
from typing import Any

import yaml

from ..errors import ConfigError
from .document import Document, KeyPath, Positions
from .problems import Problem, show
from .tomlpos import toml_positions

#: Top-level keys of the manifest proper; without any of them, a `queue` table is the body.
BODY_KEYS = frozenset({"drivers", "queues", "workers", "jobs", "default_driver", "app_dir"})
#: Most values (mappings, lists and scalars, aliases counted each time) a manifest may hold:
#: a large manifest has a few thousand.
MAX_VALUES = 100_000


class SourceError(ConfigError):
    """The manifest cannot be read as a mapping."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(problem.format())
        self.problem = problem


def read_document(path: Path, file: str) -> Document:
    """Parse ``path`` (shown as ``file`` in messages) by its extension (YAML by default)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read manifest '{file}': {exc}") from exc

    def fail(line: int, column: int, message: str, path: str = "") -> SourceError:
        return SourceError(Problem(file, max(line, 1), max(column, 1), path, message))

    suffix = path.suffix.lower()
    load = {".toml": _load_toml, ".json": _load_json}.get(suffix, _load_yaml)
    try:
        data, positions = load(text, fail)
    except RecursionError:  # a YAML alias inside its own anchor (&a [*a]), or absurd nesting
        raise fail(1, 1, "the manifest nests too deeply (or a YAML alias refers to itself)"
                   ) from None
    except ValueError as exc:  # JSON or TOML: an integer of 5,000 digits (Python's int() limit)
        raise fail(1, 1, f"invalid number: {exc}".split(";")[0]) from None
    if data is None or (isinstance(data, str) and not data.strip()):
        raise fail(1, 1, "the manifest is empty (expected a mapping of drivers, queues, "
                   "workers and jobs)")
    if not isinstance(data, dict):
        line, column = positions.values.get((), (1, 1))
        raise fail(line, column, f"expected a mapping at the top level, got {show(data)}")
    doc = Document(file, path.resolve().parent, data, positions)
    if "queue" in data and isinstance(data["queue"], dict) and not BODY_KEYS & set(data):
        doc.prefix = ("queue",)  # the seed's layout: [queue.queues.<name>], [queue.workers.<name>]
    return doc


def _load_yaml(text: str, fail: Any) -> tuple[Any, Positions]:
    try:
        loader = yaml.SafeLoader(text)
    except yaml.reader.ReaderError as exc:  # the reader checks every character up front
        raise fail(1, 1, f"invalid YAML: {exc.reason} (character #x{exc.character:04x} at "
                   f"offset {exc.position})") from None
    try:
        node = loader.get_single_node()
        walker = _Walker(loader, fail)
        data = walker.walk(node, ()) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        text = str(exc.problem or exc.context)
        hint = " (check the indentation)" if "<block" in text else (
            " (quote a ${VAR} used inside {...} or [...])" if "got '{'" in text else "")
        raise fail(line, column, f"invalid YAML: {text}{hint}") from None
    except yaml.YAMLError as exc:
        raise fail(1, 1, f"invalid YAML: {exc}") from None
    finally:
        loader.dispose()
    if walker.dupes:
        raise walker.dupes[0]
    return data, walker.positions


class _Walker:
    """Builds plain data from the composed YAML nodes, noting every position.

    An alias is the same node again, so aliases of aliases (a "billion laughs")
    expand exponentially here: the walk counts the values it builds and refuses
    a document past :data:`MAX_VALUES`, in well under a second.
    """

    def __init__(self, loader: yaml.SafeLoader, fail: Any) -> None:
        self.loader, self.fail = loader, fail
        self.positions = Positions()
        self.dupes: list[SourceError] = []
        self.count = 0

    def walk(self, node: yaml.Node, path: KeyPath) -> Any:
        at = (node.start_mark.line + 1, node.start_mark.column + 1)
        self.count += 1
        if self.count > MAX_VALUES:
            raise self.fail(*at, f"the manifest expands to more than {MAX_VALUES:,} values "
                            "(YAML aliases repeating aliases); refused")
        self.positions.values[path] = at
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, path)
        if isinstance(node, yaml.SequenceNode):
            return [self.walk(n, (*path, i)) for i, n in enumerate(node.value)]
        try:
            value = self.loader.construct_object(node, deep=True)
        except ValueError as exc:  # an integer of 5,000 digits (Python's int() limit)
            raise self.fail(*at, f"invalid number: {exc}".split(";")[0]) from None
        if isinstance(node, yaml.ScalarNode) and node.style is None and "${" in str(value):
            self.positions.plain.add(path)
        return value

    def _mapping(self, node: yaml.MappingNode, path: KeyPath) -> dict[Any, Any]:
        self.loader.flatten_mapping(node)  # YAML merge keys (<<)
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = self.loader.construct_object(key_node, deep=True)
            key = key if isinstance(key, str | int) else str(key)
            at = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
            if key in out:
                where = ".".join(str(p) for p in (*path, key))
                self.dupes.append(self.fail(*at, f"duplicate key '{key}'", where))
            self.positions.keys[(*path, key)] = at
            out[key] = self.walk(value_node, (*path, key))
        return out


def _load_json(text: str, fail: Any) -> tuple[Any, Positions]:
    if not text.strip():
        return None, Positions()
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise fail(exc.lineno, exc.colno, f"invalid JSON: {exc.msg}") from None
    # JSON is (nearly) YAML: borrow the YAML composer for positions only, best effort.
    try:
        _, positions = _load_yaml(text, fail)
    except SourceError as exc:
        if "duplicate key" in exc.problem.message:
            raise
        positions = Positions()
    positions.plain.clear()  # JSON strings are always quoted
    return data, positions


_TOML_AT = re.compile(r"^(.*?)\s*\(at line (\d+), column (\d+)\)$", re.DOTALL)


def _load_toml(text: str, fail: Any) -> tuple[Any, Positions]:
    if not text.strip():
        return None, Positions()
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        match = _TOML_AT.match(str(exc))
        if match:
            raise fail(int(match[2]), int(match[3]), f"invalid TOML: {match[1]}") from None
        raise fail(text.count("\n") + 1, 1, f"invalid TOML: {exc}") from None
    if not data:
        return None, Positions()  # TOML cannot spell an empty mapping: only comments
    return data, toml_positions(text)
