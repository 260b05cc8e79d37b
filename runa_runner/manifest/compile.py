"""Compile a checked manifest body into a frozen Registry through the public builder.

Runs only on a body that passed every check, so it may index freely: durations
become seconds, import paths become callables, driver types become instances.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..drivers import driver_type
from ..errors import ConfigError
from ..registry import Registry
from .document import Document, KeyPath
from .imports import PushScope, add_to_path, app_dir, import_callable
from .view import View, driver_config, seconds

QUEUE_DURATIONS = ("retry_delay", "retry_max_delay", "timeout", "retention", "result_ttl")
WORKER_DURATIONS = ("poll_interval", "lease", "stop_timeout")
JOB_DURATIONS = ("retry_delay", "timeout", "unique_for", "result_ttl")
SCHEDULE_DURATIONS = ("every", "grace")
INTEGERS = frozenset({"retry", "concurrency", "max_payload_bytes", "max_running"})


def _settings(entry: dict[str, Any], durations: tuple[str, ...]) -> dict[str, Any]:
    """Builder keyword arguments: manifest keys minus x-*, durations in seconds."""
    out = {k: v for k, v in entry.items() if not k.startswith("x-")}
    for key in durations:
        if key in out:
            out[key] = seconds(out[key])
    for key in INTEGERS & set(out):
        out[key] = int(out[key])  # the schema accepts 3.0 as an integer
    return out


def _unimported(path: str) -> Callable[..., Any]:
    def handler(job: Any) -> None:
        raise ConfigError(f"handler '{path}' was not imported (manifest loaded without imports)")

    return handler


def compile_registry(
    doc: Document, *, import_handlers: bool = True, scope: PushScope | None = None
) -> Registry:
    """Build and freeze the registry ``doc`` describes.

    With ``import_handlers=False`` handlers are stubs that raise when run and
    middleware is left out: enough to push (without payload types) and inspect.
    With a ``scope``, only what it wants is imported, the rest is left out likewise.
    """
    view = View(doc.body)
    if import_handlers:
        add_to_path(app_dir(doc))

    def wanted(where: KeyPath) -> bool:
        return import_handlers and (scope is None or scope.wants(view, where))

    def load(path: str, where: KeyPath) -> Callable[..., Any]:
        return import_callable(path) if wanted(where) else _unimported(path)

    registry = Registry()
    for name, entry in view.drivers.items():
        try:
            kind = driver_type(entry["type"])
            driver = kind.factory(driver_config(kind, entry), doc.base_dir)
        except ConfigError as exc:
            raise ConfigError(doc.problem(("drivers", name), str(exc), key=True).format()) from exc
        registry.driver(name, driver)
    for name, entry in view.queues.items():  # with the implicit 'default'
        kwargs = _settings(entry, QUEUE_DURATIONS)
        kwargs["driver"] = view.queue_driver(name)
        kwargs["middleware"] = [import_callable(p) for p in kwargs.get("middleware", [])] \
            if wanted(("queues", name, "middleware")) else []
        registry.queue(name, **kwargs)
    for name, entry in view.workers.items():
        kwargs = _settings(entry, WORKER_DURATIONS)
        kwargs["middleware"] = [import_callable(p) for p in kwargs.get("middleware", [])] \
            if wanted(("workers", name, "middleware")) else []
        registry.worker(name, **kwargs)
    for name, entry in view.jobs.items():
        kwargs = _settings(entry, JOB_DURATIONS)
        path = kwargs.pop("handler")
        registry.job(name, load(path, ("jobs", name, "handler")), handler_path=path, **kwargs)
    for name, entry in view.schedules.items():
        kwargs = _settings(entry, SCHEDULE_DURATIONS)
        registry.schedule(name, kwargs.pop("job"), **kwargs)
    return registry.freeze()
