"""The robust connection, its channels, outage logging and error wrapping.

aio-pika's robust connection reconnects by itself and re-declares what was
declared through it (exchange, work and failed queues, bindings, consumers).
Operations during an outage wait up to ``ready_timeout`` for the link to come
back, then raise :class:`DriverUnavailable`. Each outage is logged once on the
``runa_runner.amqp`` logger (lost, then restored); aio-pika's own line per
reconnect attempt is dropped so an outage is not a flood.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncGenerator, Awaitable, Callable, Iterator
from typing import Any

import aio_pika
import aiormq
from aio_pika.abc import AbstractRobustChannel, AbstractRobustConnection
from yarl import URL

from ...errors import ConfigError, DriverError, DriverUnavailable
from ...redaction import redact, scrub, secrets

log = logging.getLogger("runa_runner.amqp")

#: Client exceptions that mean "the broker cannot be reached right now".
UNAVAILABLE = (
    aiormq.exceptions.AMQPConnectionError, aiormq.exceptions.ChannelInvalidStateError,
    ConnectionError, OSError, asyncio.TimeoutError,
)
#: Every client exception a driver call may see.
CLIENT_ERRORS = (*UNAVAILABLE, aiormq.exceptions.AMQPError, RuntimeError)


class _DropReconnectChatter(logging.Filter):
    """Drops the client libraries' line per reconnect attempt (we log one per outage)."""

    def filter(self, record: logging.LogRecord) -> bool:
        msg = str(record.msg)
        if msg.startswith("Callback ") and "._on_close" in str(record.args):
            # a robust channel's close callback failing on the connection that just died
            # (RuntimeError, ChannelInvalidStateError, ...): aio-pika reopens the channel
            # on reconnect, so it is part of the outage we already reported
            return False
        return not msg.startswith(
            ("Connection attempt to", "Connection to", "error when creating transport",
             # the broker closing us (close_all_connections, a restart): our own
             # "connection lost" line already says so, with the reason
             "Unexpected connection close from remote", "Cancelling cause reader")
        )


for _name in ("aio_pika.robust_connection", "aio_pika.tools", "aiormq.connection"):
    logging.getLogger(_name).addFilter(_DropReconnectChatter())


#: Channels reserving in parallel: a quorum-queue ``basic.get`` is a Raft round
#: trip (~1.5 ms), so a batch reserve spreads its gets over these.
GETTERS = 4


async def _settle_close_callbacks(timeout: float = 2.0) -> None:
    """Let aio-pika's close callbacks finish (it runs them as tasks after close() returns).

    A loop closed while one is pending later reports "Task was destroyed but it is
    pending" from whatever code happens to run at garbage collection.
    """
    await asyncio.sleep(0)
    me = asyncio.current_task()
    pending = [
        t for t in asyncio.all_tasks()
        if t is not me and not t.done()
        and "OneShotCallback" in getattr(t.get_coro(), "__qualname__", "")
    ]
    if pending:
        await asyncio.wait(pending, timeout=timeout)


async def _run_at_loop_end(close: Callable[[], Awaitable[None]]) -> AsyncGenerator[None, None]:
    """An async generator left suspended: ``asyncio.run`` (and every loop that calls
    ``shutdown_asyncgens``) closes it before closing the loop, which runs ``close``.

    So a program that never awaits ``registry.close()`` still closes its AMQP
    connection while the loop can run the close, instead of printing "Task was
    destroyed but it is pending" and "Event loop is closed" at exit.
    """
    try:
        yield
    finally:
        with contextlib.suppress(Exception):
            await close()


class Link:
    """One robust connection: a confirming publish channel and ``GETTERS`` work channels."""

    def __init__(self, url: str, ready_timeout: float = 10.0) -> None:
        self.url = url
        self.target = redact(url)
        self.hidden = secrets(url)
        try:
            URL(url)  # what aio-pika parses at connect, checked now
        except (ValueError, TypeError) as exc:  # a bad port; a '#' or '/' in a password
            raise ConfigError(f"AMQP driver: invalid URL {self.target}: "
                              f"{scrub(str(exc), self.hidden)}") from None
        self.ready_timeout = ready_timeout
        self.connection: AbstractRobustConnection | None = None
        self.publisher: AbstractRobustChannel | None = None
        self.worker: AbstractRobustChannel | None = None
        self.getters: list[AbstractRobustChannel] = []
        self._down = False
        self._at_loop_end: AsyncGenerator[None, None] | None = None

    async def open(self) -> None:
        with self.guard("connect"):
            conn = await aio_pika.connect_robust(self.url, reconnect_interval=1.0)
        conn.close_callbacks.add(self._on_close)
        conn.reconnect_callbacks.add(self._on_reconnect)
        self.connection = conn
        with self.guard("open channels"):
            self.publisher = await conn.channel(publisher_confirms=True, on_return_raises=True)
            self.getters = [await conn.channel(publisher_confirms=False) for _ in range(GETTERS)]
            self.worker = self.getters[0]
        self._at_loop_end = _run_at_loop_end(self._close_now)
        await anext(self._at_loop_end)

    async def close(self) -> None:
        """Close the connection (also done, quietly, when the event loop ends unclosed)."""
        hook, self._at_loop_end = self._at_loop_end, None
        if hook is not None:
            await hook.aclose()  # runs _close_now
        else:
            await self._close_now()

    async def _close_now(self) -> None:
        conn, self.connection = self.connection, None
        if conn is not None:
            with contextlib.suppress(*CLIENT_ERRORS):
                await conn.close()
            await _settle_close_callbacks()

    def _on_close(self, _conn: Any, exc: BaseException | None) -> None:
        if self.connection is None or self._down:
            return
        self._down = True
        log.warning("AMQP connection to %s lost (%s); reconnecting", self.target,
                    scrub(str(exc), self.hidden))

    def _on_reconnect(self, _conn: Any) -> None:
        if self._down:
            self._down = False
            log.warning("AMQP connection to %s restored", self.target)

    def robust(self, which: str = "worker") -> AbstractRobustChannel:
        channel = self.publisher if which == "publisher" else self.worker
        if channel is None:
            raise DriverError(f"AMQP driver for {self.target} is not open")
        return channel

    async def raw(self, which: str | int = "worker") -> aiormq.abc.AbstractChannel:
        """The current underlying channel (a name, or a getter's index), waiting
        (bounded) through an outage."""
        channel = self.getters[which] if isinstance(which, int) else self.robust(which)
        try:
            return await asyncio.wait_for(self._open_underlay(channel), self.ready_timeout)
        except TimeoutError:
            raise DriverUnavailable(
                f"AMQP broker at {self.target} unreachable for {self.ready_timeout:g}s"
            ) from None

    @staticmethod
    async def _open_underlay(channel: AbstractRobustChannel) -> aiormq.abc.AbstractChannel:
        # Right after an outage the old underlying channel may still be handed out,
        # closed: wait for the robust channel to be reopened.
        while True:
            with contextlib.suppress(aiormq.exceptions.ChannelInvalidStateError):
                raw = await channel.get_underlay_channel()
                if not raw.is_closed:
                    return raw
            await asyncio.sleep(0.05)

    @contextlib.contextmanager
    def guard(self, what: str) -> Iterator[None]:
        """Wrap client exceptions: DriverUnavailable for link trouble, DriverError otherwise."""
        try:
            yield
        except DriverError:
            raise
        except UNAVAILABLE as exc:
            raise DriverUnavailable(
                f"AMQP broker at {self.target} unavailable during {what}: {self._said(exc)}"
            ) from exc
        except CLIENT_ERRORS as exc:
            raise DriverError(f"AMQP {what} failed on {self.target}: {self._said(exc)}") from exc

    def _said(self, exc: BaseException) -> str:
        """The client's message, scrubbed of the URL's secrets (it may quote the URL)."""
        return scrub(str(exc) or type(exc).__name__, self.hidden)
