"""Driver types by name: the built-ins, and any a package registers under the
entry-point group ``runa_runner.drivers``. Everything is imported lazily, so a
missing optional extra only matters when a manifest uses that driver.

A driver type is a :class:`~runa_runner.drivers.base.DriverType` (capabilities,
manifest keys, factory) that its package exports as ``DRIVER_TYPE``; a new built-in
driver is one package plus one line in :data:`BUILTIN`.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError, MissingExtra
from .base import Capability, ConfigKey, Driver, DriverFactory, DriverType

if TYPE_CHECKING:
    from .memory import MemoryDriver
    from .sqlite import SQLiteDriver

#: Built-in driver types: name -> (package exporting DRIVER_TYPE and the class, class name,
#: pip extra needed or None).
BUILTIN: dict[str, tuple[str, str, str | None]] = {
    "memory": ("runa_runner.drivers.memory", "MemoryDriver", None),
    "sqlite": ("runa_runner.drivers.sqlite", "SQLiteDriver", None),
    "redis": ("runa_runner.drivers.redis", "RedisDriver", "redis"),
    "amqp": ("runa_runner.drivers.amqp", "AMQPDriver", "amqp"),
    "postgres": ("runa_runner.drivers.postgres", "PostgresDriver", "postgres"),
}

ENTRY_POINT_GROUP = "runa_runner.drivers"


def driver_types() -> list[str]:
    """Every known driver type name (built-ins first)."""
    return [*BUILTIN, *sorted(set(_entry_points()) - set(BUILTIN))]


def driver_type(type_name: str) -> DriverType:
    """The driver type ``type_name``: its capabilities, manifest keys and factory.

    Raises:
        MissingExtra: the type's optional dependency is not installed (says what to install).
        ConfigError: no such type, or its entry point failed to load.
    """
    if type_name in BUILTIN:
        module_name, _attr, extra = BUILTIN[type_name]
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            if extra is None:
                raise
            raise MissingExtra(
                f"driver type '{type_name}' needs an optional dependency ({exc.name or exc}): "
                f"pip install 'runa-runner[{extra}]'"
            ) from exc
        kind: DriverType = module.DRIVER_TYPE
        return kind
    eps = _entry_points()
    if type_name in eps:
        try:
            loaded = eps[type_name].load()
        except Exception as exc:
            raise ConfigError(
                f"driver type '{type_name}' (entry point {eps[type_name].value}) "
                f"failed to load: {exc}"
            ) from exc
        return loaded if isinstance(loaded, DriverType) else _from_class(type_name, loaded)
    raise ConfigError(f"unknown driver type '{type_name}'")


def _from_class(type_name: str, cls: Any) -> DriverType:
    """An entry point naming a driver class (``CAPABILITIES``, ``from_config``, and
    optionally ``CONFIG``: its manifest keys) rather than a DriverType."""
    try:
        caps = frozenset(cls.CAPABILITIES)
        factory: DriverFactory = cls.from_config
    except AttributeError as exc:
        raise ConfigError(f"driver type '{type_name}': {cls!r} is neither a DriverType nor a "
                          f"driver class with CAPABILITIES and from_config") from exc
    return DriverType(type_name, caps, tuple(getattr(cls, "CONFIG", ())), factory)


def driver_capabilities(type_name: str) -> frozenset[Capability]:
    return driver_type(type_name).capabilities


def create_driver(type_name: str, config: Mapping[str, Any], base_dir: Path) -> Driver:
    """Build (not connect) a driver of ``type_name`` from its manifest keys."""
    return driver_type(type_name).factory(config, base_dir)


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
    "ConfigKey",
    "Driver",
    "DriverType",
    "MemoryDriver",
    "SQLiteDriver",
    "create_driver",
    "driver_capabilities",
    "driver_type",
    "driver_types",
]
