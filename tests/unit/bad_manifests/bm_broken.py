"""A handler module whose own dependency is missing."""

from __future__ import annotations

from typing import Any

import runa_nonexistent_dependency  # type: ignore[import-not-found]  # noqa: F401


async def send(job: Any) -> None:
    """Never importable."""
