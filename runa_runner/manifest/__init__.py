"""The manifest: load (YAML/TOML/JSON with positions, ${VAR} expansion) -> check -> compile.

Checking runs in three passes: the JSON Schema and the reference checks together
(all their problems in one run), then handler imports once those pass. Timing
cross-checks add warnings. Compiling a body that passed gives a frozen Registry.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import ConfigError
from ..registry import Registry
from .compile import compile_registry
from .document import Document
from .envexpand import expand_document
from .imports import PushScope, import_problems
from .problems import Problem, sort_problems
from .references import reference_problems
from .schedules import schedule_payload_problems
from .schema import manifest_schema, schema_problems, schema_text
from .source import SourceError, read_document
from .timing import timing_problems
from .view import View

#: The manifest used when neither -c/--config nor $RUNA_CONFIG names one.
DEFAULT_MANIFEST = "jobs.yaml"


def find_manifest(path: str | os.PathLike[str] | None = None) -> Path:
    """The manifest to read: ``path``, else ``$RUNA_CONFIG``, else ``./jobs.yaml``.

    Raises:
        ConfigError: the file does not exist or is not a readable file (one line).
    """
    chosen = os.fspath(path) if path is not None else os.environ.get("RUNA_CONFIG") or (
        DEFAULT_MANIFEST)
    where = Path(chosen)
    if not where.exists():
        origin = "" if path is not None or "RUNA_CONFIG" not in os.environ else " ($RUNA_CONFIG)"
        raise ConfigError(f"manifest '{chosen}'{origin} not found")
    if not where.is_file():
        raise ConfigError(f"manifest '{chosen}' is not a file")
    if not os.access(where, os.R_OK):
        raise ConfigError(f"cannot read manifest '{chosen}': permission denied")
    return where


def check_manifest(
    path: str | os.PathLike[str] | None, *, import_handlers: bool = True,
    scope: PushScope | None = None,
) -> tuple[list[Problem], Document | None]:
    """Every problem of the manifest (errors and warnings, in file order) and the document.

    The document is None when the file cannot be parsed as a mapping. With a ``scope``,
    only the handler and middleware it wants are imported.

    Raises:
        ConfigError: the file is missing or unreadable.
    """
    where = find_manifest(path)
    try:
        doc = read_document(where, str(where) if path is None else os.fspath(path))
    except SourceError as exc:
        return [exc.problem], None
    problems = expand_document(doc, os.environ)
    problems += schema_problems(doc)
    view = View(doc.body)
    problems += reference_problems(doc, view)
    if import_handlers and not any(p.is_error for p in problems):
        problems += import_problems(doc, view, scope)
        problems += schedule_payload_problems(doc, view)
    problems += timing_problems(doc, view)
    return sort_problems(problems), doc


def load_registry(
    path: str | os.PathLike[str] | None = None, *, import_handlers: bool = True,
    scope: PushScope | None = None,
) -> Registry:
    """Check the manifest and compile it into a frozen registry (importing only what
    ``scope`` wants, when given: see :class:`PushScope`).

    Raises:
        ConfigError: every error line (``FILE:LINE:COL: PATH: message``), newline-joined.
    """
    problems, doc = check_manifest(path, import_handlers=import_handlers, scope=scope)
    errors = [p.format() for p in problems if p.is_error]
    if errors or doc is None:
        raise ConfigError("\n".join(errors))
    return compile_registry(doc, import_handlers=import_handlers, scope=scope)


__all__ = [
    "DEFAULT_MANIFEST",
    "Document",
    "Problem",
    "PushScope",
    "check_manifest",
    "find_manifest",
    "load_registry",
    "manifest_schema",
    "schema_text",
]
