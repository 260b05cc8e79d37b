"""The web dashboard (DESIGN §12): ``create_app(registry)`` is an ASGI app to serve with
``runa-runner dashboard`` or to mount in an existing Starlette/FastAPI service.

Needs the ``dashboard`` extra (``pip install 'runa-runner[dashboard]'``).
"""

from __future__ import annotations

from .app import create_app

__all__ = ["create_app"]
