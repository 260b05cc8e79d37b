"""The peers: other Python job queues, each run the way its own docs say, on the same Redis.

Each module defines ``PEER``: the generated handler module (``bench_app.py``), the body of
its pusher (an ``open_target(mode)`` returning ``(enqueue, None, close)``), and the worker
command line. Every peer gets its own Redis database (9-15), which the run owns: it is
flushed before each step, and only if it was empty (or ours) when the run began.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Peer:
    """One peer library as a benchmark target."""

    name: str
    #: The distribution whose version is printed, and the module that must import.
    package: str
    module: str
    db: int
    #: How its worker runs, for the report (one line).
    how: str
    app: str
    push: str
    argv: Callable[[str, int], list[str]]

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:6379/{self.db}"

    def installed(self) -> bool:
        return importlib.util.find_spec(self.module) is not None


def all_peers() -> list[Peer]:
    """Every peer, the default set first (``rq-fork``, ``celery-prefork``: only when named)."""
    from . import arq, celery, dramatiq, huey, rq, taskiq

    defaults = (m.PEER for m in (rq, dramatiq, arq, celery, taskiq, huey))
    return [*defaults, rq.FORK, celery.PREFORK]


#: Peers run when ``--peers`` is not given.
DEFAULT = ("rq", "dramatiq", "arq", "celery", "taskiq", "huey")
