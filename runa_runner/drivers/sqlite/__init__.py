"""The SQLite driver (type ``sqlite``): the embedded, durable default for one machine."""

from __future__ import annotations

from ..base import ConfigKey, DriverType
from .driver import DEFAULT_PATH, SQLiteDriver

#: The ``sqlite`` driver type and its manifest keys.
DRIVER_TYPE = DriverType("sqlite", SQLiteDriver.CAPABILITIES, (
    ConfigKey("path", "string", DEFAULT_PATH),
    ConfigKey("busy_timeout", "duration", 5.0),
), SQLiteDriver.from_config)

__all__ = ["DEFAULT_PATH", "DRIVER_TYPE", "SQLiteDriver"]
