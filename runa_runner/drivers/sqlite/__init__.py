"""The SQLite driver (type ``sqlite``): the embedded, durable default for one machine."""

from __future__ import annotations

from .driver import DEFAULT_PATH, SQLiteDriver

__all__ = ["DEFAULT_PATH", "SQLiteDriver"]
