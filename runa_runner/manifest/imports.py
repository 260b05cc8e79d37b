"""Import handlers and middleware by ``pkg.mod:attr`` path, with the cause when it fails."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..handlers import payload_adapter, payload_type
from .document import Document, KeyPath
from .problems import Problem, did_you_mean
from .view import View, driver_config


class ImportFailed(ConfigError):
    """A handler or middleware path cannot be imported."""


@dataclass(frozen=True, slots=True)
class PushScope:
    """Import only what pushing ``job`` to ``queue`` (default: the job's) needs: the job's
    handler, for its payload type, and the queue's push middleware. A producer host may
    not have the code of the other handlers, nor of worker middleware.

    ``hint`` ends the message of an import that fails (say how to do without it).
    """

    job: str
    queue: str | None = None
    hint: str = ""

    def wants(self, view: View, where: KeyPath) -> bool:
        """Whether the handler or middleware at ``where`` is imported."""
        if where[0] == "jobs":
            return where[1] == self.job
        if where[0] == "queues":
            return where[1] == (self.queue or view.job_queue(self.job))
        return False  # run middleware of workers


def app_dir(doc: Document) -> Path:
    """The folder handlers are imported from: ``app_dir`` relative to the manifest's folder."""
    value = doc.body.get("app_dir")
    return (doc.base_dir / value).resolve() if isinstance(value, str) else doc.base_dir


def add_to_path(folder: Path) -> None:
    """Put ``folder`` first on sys.path (kept: handlers may import siblings at run time)."""
    entry = str(folder)
    if entry not in sys.path:
        sys.path.insert(0, entry)
        importlib.invalidate_caches()


def import_path(path: str) -> Any:
    """The object named by ``pkg.mod:attr`` (``attr`` may be dotted).

    Raises:
        ImportFailed: saying which part failed and why (the import error's cause).
    """
    module_name, _, attr = path.partition(":")
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:  # any error while importing user code is a cause
        raise ImportFailed(f"cannot import module '{module_name}': {_cause(exc)}") from exc
    target: Any = module
    for i, part in enumerate(attr.split(".")):
        owner = ".".join([module_name, *attr.split(".")[:i]])
        if not hasattr(target, part):
            names = [n for n in dir(target) if not n.startswith("_")]
            raise ImportFailed(
                f"module '{owner}' has no attribute '{part}'" + did_you_mean(part, names)
            )
        target = getattr(target, part)
    return target


def _cause(exc: BaseException) -> str:
    if isinstance(exc, SyntaxError):
        return f"SyntaxError: {exc.msg} ({exc.filename}, line {exc.lineno})"
    return f"{type(exc).__name__}: {exc}"


def import_callable(path: str) -> Callable[..., Any]:
    target = import_path(path)
    if not callable(target):
        raise ImportFailed(f"'{path}' is not callable (got {type(target).__name__})")
    return target  # type: ignore[no-any-return]


def _paths(view: View) -> Iterator[tuple[KeyPath, str, bool]]:
    """(where, import path, is a handler) for every handler and middleware."""
    for name, job in view.jobs.items():
        if isinstance(job.get("handler"), str):
            yield ("jobs", name, "handler"), job["handler"], True
    for kind, entries in (("queues", view.declared_queues), ("workers", view.declared_workers)):
        for name, entry in entries.items():
            items = entry.get("middleware") if isinstance(entry, dict) else None
            for i, path in enumerate(items if isinstance(items, list) else []):
                if isinstance(path, str):
                    yield (kind, name, "middleware", i), path, False


def import_problems(doc: Document, view: View, scope: PushScope | None = None) -> list[Problem]:
    """Import every handler, middleware (those ``scope`` wants) and driver type; one
    problem per failure."""
    from ..drivers import driver_type

    add_to_path(app_dir(doc))
    problems = []
    for where, path, is_handler in _paths(view):
        if scope is not None and not scope.wants(view, where):
            continue
        try:
            target = import_callable(path)
            if is_handler:
                payload_adapter(target, payload_type(target))
        except ConfigError as exc:
            hint = f"; {scope.hint}" if scope is not None and scope.hint else ""
            problems.append(doc.problem(where, f"{exc}{hint}"))
    for name, driver in view.drivers.items():
        kind = driver.get("type")
        if not isinstance(kind, str):
            continue
        try:
            kind_ = driver_type(kind)
            kind_.factory(driver_config(kind_, driver), doc.base_dir)  # builds, never connects
        except Exception as exc:  # a broken driver module is reported, not raised
            message = str(exc) if isinstance(exc, ConfigError) else (
                f"driver type '{kind}' cannot be loaded: {_cause(exc)}")
            problems.append(doc.problem(("drivers", name, "type"), message))
    return problems
