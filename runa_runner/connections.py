"""Opening drivers on the right event loop, and running registry calls from sync code.

Client connections (redis-py, aio-pika) belong to the event loop that made them,
so a driver is opened per loop: one opened elsewhere (say by ``push_sync``
before the worker's loop started) is closed there and reopened here.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Coroutine, Mapping
from typing import Any

from .drivers.base import Driver
from .errors import ConfigError


class Connections:
    """The registry's drivers, each opened on first use on the loop that uses it."""

    def __init__(self, drivers: Mapping[str, Driver]) -> None:
        self._drivers = drivers
        #: driver name -> the event loop it was opened on
        self._opened: dict[str, asyncio.AbstractEventLoop] = {}
        self._lock: asyncio.Lock | None = None
        #: the loop drivers were last opened on (where push_sync sends work)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._sync_loop: asyncio.AbstractEventLoop | None = None
        self._sync_lock = threading.Lock()

    async def open(self, name: str) -> Driver:
        driver = self._drivers[name]
        loop = asyncio.get_running_loop()
        if self._opened.get(name) is loop:
            return driver
        if self._lock is None or self._loop is not loop:
            self._lock = asyncio.Lock()
            self._loop = loop
        async with self._lock:
            old = self._opened.get(name)
            if old is not loop:
                if old is not None:
                    await close_on(driver, old)
                await driver.open()
                self._opened[name] = loop
        return driver

    async def close(self) -> None:
        opened, self._opened = self._opened, {}
        here = asyncio.get_running_loop()
        for name, loop in opened.items():
            if loop is here:
                await self._drivers[name].close()
            else:
                await close_on(self._drivers[name], loop)

    def run_sync(self, coro: Coroutine[Any, Any, Any]) -> Any:
        """Run ``coro`` from sync code: on the drivers' loop when it runs in another
        thread (a sync handler's), else on a private loop thread."""
        loop = self._loop
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if loop is not None and loop.is_running() and running is not loop:
            return asyncio.run_coroutine_threadsafe(coro, loop).result()
        if running is not None:
            coro.close()
            raise ConfigError("push_sync called on the event loop thread: use 'await push(...)'")
        with self._sync_lock:
            if self._sync_loop is None:
                self._sync_loop = asyncio.new_event_loop()
                threading.Thread(
                    target=self._sync_loop.run_forever, name="runa-sync", daemon=True
                ).start()
        return asyncio.run_coroutine_threadsafe(coro, self._sync_loop).result()


async def close_on(driver: Driver, loop: asyncio.AbstractEventLoop) -> None:
    """Close ``driver`` on the loop that opened it, if that loop still runs somewhere."""
    if loop.is_closed() or not loop.is_running():
        return  # its connections died with the loop
    with contextlib.suppress(Exception):
        await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(driver.close(), loop))
