"""Connecting to Redis: URLs, clients (standalone or cluster), and error translation.

Nothing here leaks a password: :func:`~runa_runner.redaction.redact` is applied to every
URL that reaches a message, and redis-py's own messages are scrubbed of the URL's secrets.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, TypeAlias
from urllib.parse import urlsplit

import redis
from redis import exceptions as rx
from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster

from ...errors import ConfigError, DriverError, DriverUnavailable
from ...redaction import redact, scrub, secrets

Client: TypeAlias = "Redis | RedisCluster"
SyncClient: TypeAlias = "redis.Redis | redis.RedisCluster"

#: URL schemes that select the cluster client on their own (``cluster: true`` also does).
CLUSTER_SCHEMES = {"redis+cluster": "redis", "rediss+cluster": "rediss"}
SCHEMES = {"redis", "rediss", "unix", *CLUSTER_SCHEMES}

#: redis-py errors that mean "the server cannot be reached" rather than "the call failed".
UNREACHABLE = (rx.ConnectionError, rx.TimeoutError, rx.ClusterDownError,
               rx.SlotNotCoveredError, OSError)


@dataclass(frozen=True, slots=True)
class Settings:
    """How to connect; built once from the constructor arguments."""

    url: str
    cluster: bool
    pool_size: int | None
    socket_timeout: float | None
    socket_connect_timeout: float | None

    @classmethod
    def parse(cls, url: str, cluster: bool, pool_size: int | None,
              socket_timeout: float | None, socket_connect_timeout: float | None) -> Settings:
        """Check the URL scheme; a ``redis+cluster://`` URL turns ``cluster`` on."""
        try:
            scheme = urlsplit(url).scheme
            urlsplit(url).port  # noqa: B018 (what redis-py reads later, checked now)
        except ValueError as exc:  # a bad port or IPv6 literal; a '#' or '/' in a password
            raise ConfigError(f"redis driver: invalid URL {redact(url)}: "
                              f"{scrub(str(exc), secrets(url))}") from None
        if scheme not in SCHEMES:
            raise ConfigError(f"redis driver: unsupported URL scheme '{scheme}' in "
                              f"{redact(url)} (expected redis://, rediss:// or unix://)")
        if scheme in CLUSTER_SCHEMES:
            url = CLUSTER_SCHEMES[scheme] + url[len(scheme):]
            cluster = True
        if pool_size is not None and pool_size < 1:
            raise ConfigError(f"redis driver: pool_size must be >= 1, got {pool_size}")
        return cls(url, cluster, pool_size, socket_timeout, socket_connect_timeout)

    def client(self, *, blocking: bool = False) -> Client:
        """A new client; ``blocking`` ones have no socket timeout (they wait in BLPOP)."""
        options = self._options(blocking)
        if self.cluster:
            return RedisCluster.from_url(self.url, **options)
        return Redis.from_url(self.url, **options)

    def sync_client(self) -> SyncClient:
        """A new thread-safe sync client (for pushes from sync code)."""
        options = self._options(False)
        if self.cluster:
            return redis.RedisCluster.from_url(self.url, **options)
        return redis.Redis.from_url(self.url, **options)

    def _options(self, blocking: bool) -> dict[str, Any]:
        options: dict[str, Any] = {
            "decode_responses": True,
            "socket_connect_timeout": self.socket_connect_timeout,
            "socket_timeout": None if blocking else self.socket_timeout,
        }
        if self.pool_size is not None and not blocking:
            options["max_connections"] = self.pool_size
        return options


@contextlib.contextmanager
def translated(target: str, hidden: list[str] | None = None) -> Iterator[None]:
    """Turn redis-py exceptions into DriverUnavailable / DriverError naming ``target``.

    ``target`` must already be redacted; ``hidden`` (the URL's secrets) is scrubbed
    from the client's message in case it ever quotes one.
    """
    try:
        yield
    except UNREACHABLE as exc:
        raise DriverUnavailable(
            f"redis driver: cannot reach {target}: {reason(exc, hidden)}") from exc
    except (rx.RedisError, rx.RedisClusterException) as exc:
        raise DriverError(f"redis driver: {target}: {reason(exc, hidden)}") from exc


def reason(exc: BaseException, hidden: list[str] | None = None) -> str:
    """One line saying what went wrong, never containing a string of ``hidden``."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return scrub(text, hidden or [])
