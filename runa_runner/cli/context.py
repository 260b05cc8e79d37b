"""What every subcommand needs: the registry from -c/--config, an event loop, option types."""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, TypeVar

from ..drivers.base import Capability
from ..durations import DurationError, parse_duration
from ..errors import ConfigError

if TYPE_CHECKING:
    from ..manifest import PushScope
    from ..registry import Registry

T = TypeVar("T")


def load(args: argparse.Namespace, *, import_handlers: bool = True,
         scope: PushScope | None = None) -> Registry:
    """The frozen registry of the manifest named by -c/--config (else $RUNA_CONFIG, jobs.yaml);
    with a ``scope``, only the handler and middleware a push needs are imported.

    Raises:
        ConfigError: one line per problem; also when the file cannot be read.
    """
    from ..manifest import load_registry

    path = getattr(args, "config", None)
    try:
        return load_registry(path, import_handlers=import_handlers, scope=scope)
    except OSError as exc:  # the loader should say this itself; never show a traceback
        raise ConfigError(f"cannot read manifest {path or 'jobs.yaml'}: {exc.strerror}") from exc


def require_cross_process(registry: Registry, queue: str, consequence: str) -> None:
    """Refuse a queue whose driver lives only in this process (the CLI's own process).

    ``consequence`` ends the message: what would go wrong (``": its failed jobs ..."``).

    Raises:
        UnknownName: no such queue (with did-you-mean).
        ConfigError: the queue's driver is in-process.
    """
    name = registry.queue_spec(queue).driver
    driver = registry.drivers[name]
    if Capability.CROSS_PROCESS not in driver.capabilities:
        raise ConfigError(
            f"queue '{queue}' uses the in-process {driver.type_name} driver '{name}'{consequence}")


def run_with(registry: Registry, command: Callable[[Registry], Awaitable[T]]) -> T:
    """Run an async command on a fresh event loop, closing the registry's drivers after."""

    async def main() -> T:
        try:
            return await command(registry)
        finally:
            await registry.close()

    return asyncio.run(main())


def duration(text: str) -> float:
    """argparse type for D options: a bad value is a usage error (exit 2) naming the value."""
    try:
        return parse_duration(text)
    except DurationError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def ago(seconds: float) -> float:
    """The epoch time ``seconds`` ago (for --older-than)."""
    return time.time() - seconds
