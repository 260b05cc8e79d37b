"""Connecting to PostgreSQL: settings, the pools, the schema on first use, error translation.

Nothing here leaks a password: :func:`redact` turns a URL or conninfo into
``postgresql://user@host:port/dbname`` for every message, and the client's own
messages are scrubbed of the password in case one ever quotes it.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import psycopg
import psycopg_pool
from psycopg import conninfo

from ...errors import ConfigError, DriverError, DriverUnavailable
from . import flow
from .queries import SCHEMA_VERSION, quote_ident, schema_statements
from .results import table_statements

#: Seconds to wait for a connection (connecting, or a free one from the pool).
CONNECT_TIMEOUT = 5.0
#: Default largest number of connections per pool (one pool per event loop).
DEFAULT_POOL_SIZE = 10
#: Connections a pool opens up front: a worker's concurrent calls at start (reserve,
#: wait, heartbeat, retention, settle) then never queue for one (and a caller that
#: does queue keeps its cancellation: see borrowing.py).
MIN_POOL_SIZE = 4
#: Longest schema name PostgreSQL keeps (NAMEDATALEN - 1 bytes).
MAX_NAME_BYTES = 63


class _DropPoolChatter(logging.Filter):
    """Drops psycopg_pool's line per failed reconnect attempt: the worker logs one line
    per outage (runa_runner/outage.py), and a down server must not flood the log."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.ERROR and "connect" not in str(record.msg)


class _DropLostConnectionChatter(logging.Filter):
    """Drops psycopg's "error ignored terminating <pipeline>: the connection is lost"
    (a call on a connection the server dropped): that call fails and reports it."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("error ignored terminating")


logging.getLogger("psycopg.pool").addFilter(_DropPoolChatter())
logging.getLogger("psycopg").addFilter(_DropLostConnectionChatter())


def redact(url: str) -> str:
    """``url`` (a libpq URL or conninfo) as ``postgresql://user@host:port/dbname``."""
    try:
        parts = conninfo.conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        return "<unparsable postgres url>"
    user = f"{parts['user']}@" if parts.get("user") else ""
    host = str(parts.get("host") or "")
    port = f":{parts['port']}" if parts.get("port") else ""
    db = f"/{parts['dbname']}" if parts.get("dbname") else ""
    return f"postgresql://{user}{host}{port}{db}"


@dataclass(frozen=True, slots=True)
class Settings:
    """How to connect and where the tables are; checked once at construction."""

    url: str
    schema: str
    pool_size: int
    notify: bool

    @classmethod
    def parse(cls, url: str, schema: str, pool_size: int | None, notify: bool) -> Settings:
        try:
            conninfo.conninfo_to_dict(url)
        except psycopg.ProgrammingError as exc:
            raise ConfigError(f"postgres driver: url is not a libpq URL or conninfo: "
                              f"{reason(exc, _password(url))}") from None
        if not schema or len(schema.encode()) > MAX_NAME_BYTES:
            raise ConfigError(f"postgres driver: schema must be 1 to {MAX_NAME_BYTES} bytes, "
                              f"got {schema!r}")
        size = DEFAULT_POOL_SIZE if pool_size is None else pool_size
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise ConfigError(f"postgres driver: pool_size must be a whole number >= 1, "
                              f"got {pool_size!r}")
        return cls(url, schema, size, bool(notify))

    @property
    def target(self) -> str:
        return redact(self.url)

    @property
    def secret(self) -> str | None:
        return _password(self.url)

    @property
    def channel(self) -> str:
        """The LISTEN/NOTIFY channel of this schema (at most 63 bytes, like every name)."""
        return ("runa:" + self.schema).encode()[:MAX_NAME_BYTES].decode(errors="ignore")

    def connect_options(self) -> dict[str, Any]:
        # autocommit: a statement is its own transaction, one round trip; the few calls
        # that need several statements open a transaction themselves.
        return {"autocommit": True, "connect_timeout": int(CONNECT_TIMEOUT)}

    def pool_options(self) -> dict[str, Any]:
        # prepare_threshold 0: the driver runs a few dozen statements, over and over, so
        # each is prepared on a connection's first use of it, not its sixth (a bulk push
        # of 5 batches, or a pool of 16 connections, would plan most calls anew).
        return {**self.connect_options(), "prepare_threshold": 0}

    def async_pool(self, *, durable: bool) -> psycopg_pool.AsyncConnectionPool[Any]:
        """A pool for one event loop. ``durable``: commits wait for the WAL to reach disk
        (pushes, admin changes). The other pool serves the worker's own writes (reserve,
        renew, settle, stats), which commit without waiting for the disk: if the server
        crashes, the last fraction of a second of them may be forgotten, and forgetting
        one only makes a job run again (a lapsed lease), never loses it. On a server
        whose fsync takes milliseconds this is what lets a worker go faster than one
        fsync per job."""
        if durable:
            return psycopg_pool.AsyncConnectionPool(
                self.url, min_size=1, max_size=self.pool_size, kwargs=self.pool_options(),
                open=False, timeout=CONNECT_TIMEOUT, name=f"runa-{self.schema}-push")
        return psycopg_pool.AsyncConnectionPool(
            self.url, min_size=min(MIN_POOL_SIZE, self.pool_size), max_size=self.pool_size,
            kwargs=self.pool_options(), open=False, timeout=CONNECT_TIMEOUT,
            name=f"runa-{self.schema}", configure=_commit_without_waiting)

    def sync_pool(self) -> psycopg_pool.ConnectionPool[Any]:
        return psycopg_pool.ConnectionPool(
            self.url, min_size=1, max_size=self.pool_size, kwargs=self.pool_options(),
            open=False, timeout=CONNECT_TIMEOUT, name=f"runa-{self.schema}-sync")


async def _commit_without_waiting(conn: psycopg.AsyncConnection[Any]) -> None:
    await conn.execute("SET synchronous_commit = off")


def _password(url: str) -> str | None:
    try:
        value = conninfo.conninfo_to_dict(url).get("password")
    except psycopg.ProgrammingError:
        return None
    return str(value) if value else None


#: Errors that mean "the server cannot be reached" rather than "the statement failed".
UNREACHABLE = (psycopg.OperationalError, psycopg_pool.PoolTimeout, OSError)


@contextlib.contextmanager
def translated(settings: Settings) -> Iterator[None]:
    """Turn psycopg errors into DriverUnavailable / DriverError naming the redacted target."""
    try:
        yield
    except UNREACHABLE as exc:
        raise DriverUnavailable(f"postgres driver: cannot reach {settings.target}: "
                                f"{reason(exc, settings.secret)}") from exc
    except (psycopg.Error, psycopg_pool.PoolTimeout) as exc:
        raise DriverError(f"postgres driver: {settings.target}: "
                          f"{reason(exc, settings.secret)}") from exc


def reason(exc: BaseException, secret: str | None = None) -> str:
    """One line saying what went wrong, never containing ``secret``."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    if secret:
        text = text.replace(secret, "***")
    return text


def is_disconnect(exc: BaseException, conn: Any) -> bool:
    """True when ``exc`` came from a connection that is now unusable (server restarted,
    connection killed): the call may be tried once more on a fresh connection."""
    return isinstance(exc, psycopg.OperationalError) and conn is not None and (
        conn.closed or conn.broken)


async def ensure_schema(settings: Settings) -> None:
    """Create or upgrade the schema's tables, once, whoever comes first (advisory lock)."""
    conn = await psycopg.AsyncConnection.connect(settings.url, **settings.connect_options())
    async with conn:
        if await _version(conn, settings.schema) != SCHEMA_VERSION or \
                not await _has_results(conn, settings.schema):
            await _create(conn, settings)
        await flow.ensure_tables(conn, settings.schema, _lock_key(settings))


def _lock_key(settings: Settings) -> str:
    return f"runa-runner schema {settings.schema}"


async def _create(conn: psycopg.AsyncConnection[Any], settings: Settings) -> None:
    """The schema's tables of SCHEMA_VERSION and those of results.sql (which a schema of
    any version gains), under the schema's advisory lock."""
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))",
                           (_lock_key(settings),))
        version = await _version(conn, settings.schema)
        if version is not None and version > SCHEMA_VERSION:
            raise DriverError(
                f"postgres driver: schema {settings.schema!r} on {settings.target} has "
                f"version {version}, newer than this runa-runner understands "
                f"({SCHEMA_VERSION}); upgrade runa-runner")
        if version != SCHEMA_VERSION:
            for statement in schema_statements(settings.schema):
                await conn.execute(statement)
            table = f"{quote_ident(settings.schema)}.schema_version"
            await conn.execute(f"DELETE FROM {table}".encode())
            await conn.execute(f"INSERT INTO {table} (version) VALUES (%s)".encode(),
                               (SCHEMA_VERSION,))
        for statement in table_statements(settings.schema):
            await conn.execute(statement)


async def _has_results(conn: psycopg.AsyncConnection[Any], schema: str) -> bool:
    """Whether the tables of results.sql exist (created after the schema's version 2)."""
    cur = await conn.execute("SELECT to_regclass(%s) IS NOT NULL",
                             (f"{quote_ident(schema)}.cancels",))
    row = await cur.fetchone()
    return bool(row and row[0])


async def _version(conn: psycopg.AsyncConnection[Any], schema: str) -> int | None:
    table = f"{quote_ident(schema)}.schema_version"
    cur = await conn.execute("SELECT to_regclass(%s) IS NOT NULL", (table,))
    row = await cur.fetchone()
    if row is None or not row[0]:
        return None
    cur = await conn.execute(f"SELECT max(version) FROM {table}".encode())
    row = await cur.fetchone()
    return None if row is None or row[0] is None else int(row[0])

