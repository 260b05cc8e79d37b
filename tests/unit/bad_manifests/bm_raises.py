"""A handler module that fails while importing."""

from __future__ import annotations

raise RuntimeError("settings not configured")
