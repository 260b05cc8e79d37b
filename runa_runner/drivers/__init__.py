"""Driver types by name: the built-ins, and any a package registers under the
entry-point group ``runa_runner.drivers``. Everything is imported lazily, so a
missing optional extra only matters when a manifest uses that driver.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError, MissingExtra
from .base import Capability, Driver

if TYPE_CHECKING:
    from .memory import MemoryDriver
    from .sqlite import SQLiteDriver

#: Built-in driver types: (module, class, pip extra needed or None).
BUILTIN: dict[str, tuple[str, str, str | None]] = {
    "memory": ("runa_runner.drivers.memory", "MemoryDriver", None),
    "sqlite": ("runa_runner.drivers.sqlite", "SQLiteDriver", None),
    "redis": ("runa_runner.drivers.redis", "RedisDriver", "redis"),
    "amqp": ("runa_runner.drivers.amqp", "AMQPDriver", "amqp"),
    "postgres": ("runa_runner.drivers.postgres", "PostgresDriver", "postgres"),
}

ENTRY_POINT_GROUP = "runa_runner.drivers"

DriverFactory = Callable[[Mapping[str, Any], Path], Driver]


def driver_types() -> list[str]:
    """Every known driver type name (built-ins first)."""
    return [*BUILTIN, *sorted(set(_entry_points()) - set(BUILTIN))]


def driver_class(type_name: str) -> Any:
    """The class for a driver type; it has ``from_config(config, base_dir)`` and ``CAPABILITIES``.

    Raises:
        MissingExtra: the type's optional dependency is not installed (says what to install).
        ConfigError: no such type.
    """
    if type_name in BUILTIN:
        module_name, attr, extra = BUILTIN[type_name]
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            if extra is None:
                raise
            raise MissingExtra(
                f"driver type '{type_name}' needs an optional dependency ({exc.name or exc}): "
                f"pip install 'runa-runner[{extra}]'"
            ) from exc
        return getattr(module, attr)
    eps = _entry_points()
    if type_name in eps:
        try:
            return eps[type_name].load()
        except Exception as exc:
            raise ConfigError(
                f"driver type '{type_name}' (entry point {eps[type_name].value}) "
                f"failed to load: {exc}"
            ) from exc
    raise ConfigError(f"unknown driver type '{type_name}'")


def driver_capabilities(type_name: str) -> frozenset[Capability]:
    return frozenset(driver_class(type_name).CAPABILITIES)


def create_driver(type_name: str, config: Mapping[str, Any], base_dir: Path) -> Driver:
    """Build (not connect) a driver of ``type_name`` from its manifest keys."""
    driver: Driver = driver_class(type_name).from_config(config, base_dir)
    return driver


def _entry_points() -> dict[str, Any]:
    from importlib_metadata import entry_points

    return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}


def __getattr__(name: str) -> Any:
    # `rr.drivers.SQLiteDriver(...)` without importing every driver up front.
    for module_name, attr, _extra in BUILTIN.values():
        if attr == name:
            return getattr(importlib.import_module(module_name), attr)
    raise AttributeError(name)


__all__ = [
    "BUILTIN",
    "Capability",
    "Driver",
    "MemoryDriver",
    "SQLiteDriver",
    "create_driver",
    "driver_capabilities",
    "driver_class",
    "driver_types",
]
