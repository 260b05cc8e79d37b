"""A progress bar on stderr, drawn only when stderr is a terminal (never in pipes or logs)."""

from __future__ import annotations

import sys
from types import TracebackType
from typing import TextIO

#: Characters in the bar itself.
WIDTH = 30


class Progress:
    """``with Progress(total, "pushed") as p: p.update(done)``; silent unless on a TTY."""

    def __init__(self, total: int, verb: str, stream: TextIO | None = None) -> None:
        self.total = total
        self.verb = verb
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty() and total > 0
        self._drawn = False

    def update(self, done: int) -> None:
        if not self.enabled:
            return
        filled = WIDTH * done // self.total
        bar = "#" * filled + "-" * (WIDTH - filled)
        self.stream.write(f"\r[{bar}] {self.verb} {done}/{self.total}")
        self.stream.flush()
        self._drawn = True

    def __enter__(self) -> Progress:
        self.update(0)
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._drawn:
            self.stream.write("\n")
            self.stream.flush()
