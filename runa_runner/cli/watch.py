"""``runa-runner list --watch [SECONDS]``: the two tables of ``list``, kept current.

On a terminal they are redrawn in place (rich's ``Live``, the ``[watch]`` extra) with
the time of the reading and any unreachable driver; otherwise (a pipe, a file, a log)
a new snapshot is printed every SECONDS, separated by a blank line, without rich.
Ctrl-C (or SIGTERM) ends it with exit 0. The drivers stay open between readings.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
import time
from collections.abc import Callable
from typing import Any

from ..errors import MissingExtra
from ..registry import Registry
from . import context, list_cmd, output


def run(registry: Registry, every: float, *, as_json: bool = False) -> int:
    show: Callable[[str, dict[str, str]], None]
    live: Any = None
    if sys.stdout.isatty() and not as_json:
        live = _live()
        live.start()
        show = _redraw(live)
    else:
        show = _snapshot
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        context.run_with(registry, lambda r: _loop(r, every, as_json, show))
    except KeyboardInterrupt:
        pass
    finally:
        if live is not None:
            live.stop()
    return 0


async def _loop(registry: Registry, every: float, as_json: bool,
                show: Callable[[str, dict[str, str]], None]) -> None:
    while True:
        queues, workers, down = await list_cmd.gather(registry)
        if as_json:
            text = json.dumps(list_cmd.as_dict(queues, workers), ensure_ascii=False)
        else:
            text = list_cmd.tables(queues, workers)
        show(text, down)
        await asyncio.sleep(every)


def _snapshot(text: str, down: dict[str, str]) -> None:
    output.warn_unreachable(down)
    print(text, end="\n\n" if "\n" in text else "\n", flush=True)


def _live() -> Any:
    try:
        from rich.console import Console
        from rich.live import Live
    except ImportError as exc:
        raise MissingExtra("list --watch on a terminal needs an optional dependency (rich): "
                           "pip install 'runa-runner[watch]'") from exc
    return Live(console=Console(highlight=False), auto_refresh=False,
                redirect_stderr=False)


def _redraw(live: Any) -> Callable[[str, dict[str, str]], None]:
    from rich.text import Text

    def show(text: str, down: dict[str, str]) -> None:
        lines = [f"{time.strftime('%H:%M:%S')}  (Ctrl-C to stop)", "", text]
        lines += [f"driver '{n}' unreachable: {output.one_line(r)}" for n, r in down.items()]
        live.update(Text("\n".join(lines)), refresh=True)

    return show
