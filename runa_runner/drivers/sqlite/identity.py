"""Noticing that the database file was deleted or replaced under an open connection.

An open SQLite connection keeps the file it opened, even after ``rm`` or a ``mv``
over it: a worker would go on serving a file no other process can reach, while
pushes land in the new one. The driver compares the path's (device, inode) with
the file it opened before each call (one ``stat``, ~1 µs) and reopens by path.
"""

from __future__ import annotations

import os
from pathlib import Path


class FileIdentity:
    """The (device, inode) of the file a connection opened."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._ident = self._read()

    def _read(self) -> tuple[int, int] | None:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return None
        except OSError:  # unreadable right now: not evidence of a change
            return self._ident if hasattr(self, "_ident") else None
        return st.st_dev, st.st_ino

    def change(self) -> str | None:
        """"deleted" or "replaced" when the path no longer names the opened file."""
        now = self._read()
        if now == self._ident:
            return None
        return "deleted" if now is None else "replaced"
