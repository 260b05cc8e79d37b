"""``runa-runner list --watch [SECONDS]``: the two tables of ``list``, kept current.

On a terminal they are redrawn in place (rich's ``Live``, the ``[watch]`` extra) with
the time of the reading and any unreachable driver; otherwise (a pipe, a file, a log)
a new snapshot is printed every SECONDS, separated by a blank line, without rich.
Ctrl-C (or SIGTERM) ends it with exit 0. The drivers stay open between readings.
"""

from __future__ import annotations

import asyncio
import signal
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

from ..errors import MissingExtra
from ..registry import Registry
from . import context, output

#: What one reading prints, and the drivers it could not reach (name -> reason).
Snapshot = Callable[[Registry], Awaitable[tuple[str, dict[str, str]]]]


def run(registry: Registry, every: float, snapshot: Snapshot, *, live: bool = True) -> int:
    """Show ``snapshot`` every ``every`` seconds until Ctrl-C/SIGTERM; exit code 0.
    ``live``: redraw in place when stdout is a terminal."""
    show: Callable[[str, dict[str, str]], None] = _snapshot
    screen: Any = None
    if live and sys.stdout.isatty():
        screen = _live()
        screen.start()
        show = _redraw(screen)
    for sig in (signal.SIGINT, signal.SIGTERM):  # also when started with SIGINT ignored
        signal.signal(sig, signal.default_int_handler)
    try:
        context.run_with(registry, lambda r: _loop(r, every, snapshot, show))
    except KeyboardInterrupt:
        pass
    finally:
        if screen is not None:
            screen.stop()
    return 0


async def _loop(registry: Registry, every: float, snapshot: Snapshot,
                show: Callable[[str, dict[str, str]], None]) -> None:
    while True:
        show(*await snapshot(registry))
        await asyncio.sleep(every)


def _snapshot(text: str, down: dict[str, str]) -> None:
    output.warn_unreachable(down)
    print(text, end="\n\n" if "\n" in text else "\n", flush=True)


def _live() -> Any:
    try:
        from rich.console import Console
        from rich.live import Live
    except ImportError:
        raise MissingExtra("list --watch on a terminal needs an optional dependency (rich): "
                           "pip install 'runa-runner[watch]'") from None
    return Live(console=Console(highlight=False), auto_refresh=False,
                redirect_stderr=False)


def _redraw(live: Any) -> Callable[[str, dict[str, str]], None]:
    from rich.text import Text

    def show(text: str, down: dict[str, str]) -> None:
        lines = [f"{time.strftime('%H:%M:%S')}  (Ctrl-C to stop)", "", text]
        lines += [f"driver '{n}' unreachable: {output.one_line(r)}" for n, r in down.items()]
        live.update(Text("\n".join(lines)), refresh=True)

    return show
