"""Signals and the event loop for ``work``: graceful first stop, immediate second stop.

A sync handler runs in a thread that cannot be killed; the process must still
exit when the contract says so, so threads still running once the units have
stopped do not hold the exit (the process leaves with ``os._exit``).

Signals are caught from the moment ``work`` starts loading the manifest
(:class:`EarlySignals`), so one that arrives before the event loop runs (handler
imports, the first driver connection) is a graceful stop too, not a death by signal.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Coroutine
from types import FrameType
from typing import Any

from ..registry import Registry
from ..worker import HANDLER_THREADS, Unit

log = logging.getLogger("runa_runner.cli")

#: Seconds a second signal waits for the units' release before leaving regardless.
HARD_EXIT_AFTER = 3.0
#: Seconds to wait for handler threads after the units stopped.
THREAD_GRACE = 1.0
SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Stopper:
    """Turns signals into unit stops: first graceful, second immediate."""

    def __init__(self) -> None:
        #: Each started unit and the task running it.
        self.units: dict[Unit, asyncio.Task[Any]] = {}
        self.stopping = False
        self.exit_code: int | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    def install(self, loop: asyncio.AbstractEventLoop) -> None:
        for sig in SIGNALS:
            loop.add_signal_handler(sig, self.on_signal, sig)

    def uninstall(self, loop: asyncio.AbstractEventLoop) -> None:
        for sig in SIGNALS:
            loop.remove_signal_handler(sig)

    def on_signal(self, sig: signal.Signals) -> None:
        if not self.stopping:
            self.stopping = True
            log.info("%s received: stopping gracefully (send it again to stop at once)",
                     sig.name)
            task = asyncio.get_running_loop().create_task(self.stop_all())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
            return
        self.exit_code = 128 + sig.value
        log.warning("%s received again: stopping at once, releasing running jobs", sig.name)
        for unit in self.units:
            unit.stop_now()
        asyncio.get_running_loop().call_later(HARD_EXIT_AFTER, hard_exit, self.exit_code)

    async def stop_all(self) -> None:
        """Graceful stop of every unit (each waits up to its stop_timeout)."""
        self.stopping = True
        await asyncio.gather(*(stop_unit(u, t) for u, t in self.units.items()))


async def stop_unit(unit: Unit, running: asyncio.Task[Any]) -> None:
    """``unit.stop()``, unless its run already ended (a unit that failed to start never will)."""
    if running.done():
        return
    stop = asyncio.ensure_future(unit.stop())
    await asyncio.wait((stop, running), return_when=asyncio.FIRST_COMPLETED)
    stop.cancel()


class EarlySignals:
    """SIGINT/SIGTERM noted before the loop's handlers exist, to be replayed on the loop."""

    def __init__(self) -> None:
        self.received: list[signal.Signals] = []
        self._before: dict[signal.Signals, Any] = {}

    @classmethod
    def catch(cls) -> EarlySignals:
        early = cls()
        for sig in SIGNALS:
            early._before[sig] = signal.signal(sig, early._note)
        return early

    def restore(self) -> None:
        """Put back the handlers found at ``catch`` (``work`` ends before its loop runs)."""
        for sig, before in self._before.items():
            signal.signal(sig, before)

    def _note(self, signum: int, _frame: FrameType | None) -> None:
        self.received.append(signal.Signals(signum))

    def replay(self, loop: asyncio.AbstractEventLoop, stopper: Stopper) -> None:
        for sig in self.received:
            loop.call_soon(stopper.on_signal, sig)


def run_loop(registry: Registry, serve: Callable[[Stopper], Coroutine[Any, Any, int]],
             early: EarlySignals | None = None) -> int:
    """Run ``serve`` with signal handling on a new loop; close drivers; don't wait on threads."""
    loop = asyncio.new_event_loop()
    stopper = Stopper()
    stopper.install(loop)
    if early is not None:
        early.replay(loop, stopper)
    try:
        code = loop.run_until_complete(serve(stopper))
    finally:
        try:
            loop.run_until_complete(registry.close())
            stopper.uninstall(loop)
            loop.run_until_complete(loop.shutdown_asyncgens())
        finally:
            loop.close()
    if not threads_finished(THREAD_GRACE):
        hard_exit(code)
    return code


def threads_finished(grace: float) -> bool:
    """Wait up to ``grace`` seconds for our handler threads (idle ones exit at once)."""
    deadline = time.monotonic() + grace
    while True:
        others = [t for t in threading.enumerate()
                  if t.name.startswith(HANDLER_THREADS) and t.is_alive()]
        if not others:
            return True
        if time.monotonic() > deadline:
            return False
        others[0].join(timeout=0.05)


def hard_exit(code: int) -> None:
    """Leave now: flush what was written, skip joining threads that cannot be stopped."""
    with contextlib.suppress(Exception):
        sys.stdout.flush()
        sys.stderr.flush()
    os._exit(code)
