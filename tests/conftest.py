"""Shared test plumbing: where the services live, whether they answer, and the `needs` marker.

Services are located with ``--redis-url`` / ``--amqp-url`` / ``--postgres-url`` (else
``REDIS_URL`` / ``AMQP_URL`` / ``POSTGRES_URL``, else the local defaults). A test that
needs a service that does not answer is skipped with the reason, unless
``RUNA_REQUIRE_SERVICES=1`` (CI): then it fails, so a broken CI service can never turn
into a green run of skips.

``@pytest.mark.needs(Capability.X, ...)`` skips a test for a driver whose
``capabilities`` lack one of them. It is resolved through the fixture
``driver_capabilities``, which each tier that parametrises drivers provides
(see ``tests/contract/conftest.py``): tests are skipped by capability, never by
driver name.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from urllib.parse import urlsplit

import pytest

from runa_runner.drivers.base import Capability

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
DEFAULT_AMQP_URL = "amqp://guest:guest@127.0.0.1:5672/"
DEFAULT_POSTGRES_URL = "postgresql://127.0.0.1:5432/test"

#: Seconds to wait for a service to answer the session-level check.
PROBE_TIMEOUT = 2.0


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("runa-runner services")
    group.addoption("--redis-url", default=None,
                    help=f"Redis for driver tests (env REDIS_URL, default {DEFAULT_REDIS_URL})")
    group.addoption("--amqp-url", default=None,
                    help=f"RabbitMQ for driver tests (env AMQP_URL, default {DEFAULT_AMQP_URL})")
    group.addoption("--postgres-url", default=None,
                    help="PostgreSQL for driver tests, each test in its own schema "
                    f"(env POSTGRES_URL, default {DEFAULT_POSTGRES_URL})")


def services_required() -> bool:
    """True under CI (``RUNA_REQUIRE_SERVICES=1``): a missing service fails instead of skipping."""
    return os.environ.get("RUNA_REQUIRE_SERVICES", "") == "1"


@pytest.fixture(scope="session")
def redis_url(pytestconfig: pytest.Config) -> str:
    url: str = pytestconfig.getoption("--redis-url") or os.environ.get("REDIS_URL") or ""
    return url or DEFAULT_REDIS_URL


@pytest.fixture(scope="session")
def amqp_url(pytestconfig: pytest.Config) -> str:
    url: str = pytestconfig.getoption("--amqp-url") or os.environ.get("AMQP_URL") or ""
    return url or DEFAULT_AMQP_URL


@pytest.fixture(scope="session")
def postgres_url(pytestconfig: pytest.Config) -> str:
    url: str = pytestconfig.getoption("--postgres-url") or os.environ.get("POSTGRES_URL") or ""
    return url or DEFAULT_POSTGRES_URL


def _redact(url: str) -> str:
    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        return parts._replace(netloc=netloc).geturl()
    return url


def _probe_redis(url: str) -> str | None:
    """None when Redis answers PING, else why not."""
    import redis

    try:
        client = redis.Redis.from_url(url, socket_timeout=PROBE_TIMEOUT,
                                      socket_connect_timeout=PROBE_TIMEOUT)
        try:
            client.ping()
        finally:
            client.close()
    except Exception as exc:  # any failure means "not usable"; the reason is reported
        return f"{type(exc).__name__}: {exc}"
    return None


def _probe_amqp(url: str) -> str | None:
    """None when an AMQP 0-9-1 server answers the protocol header, else why not.

    The server's first frame after the header is a method frame (type 1,
    Connection.Start); that proves a broker, not just an open port.
    """
    parts = urlsplit(url)
    host = parts.hostname or "127.0.0.1"
    port = parts.port or (5671 if parts.scheme == "amqps" else 5672)
    try:
        with socket.create_connection((host, port), timeout=PROBE_TIMEOUT) as sock:
            sock.sendall(b"AMQP\x00\x00\x09\x01")
            first = sock.recv(1)
    except OSError as exc:
        return f"{type(exc).__name__}: {exc}"
    if first != b"\x01":
        return f"{host}:{port} does not speak AMQP 0-9-1"
    return None


def _probe_postgres(url: str) -> str | None:
    """None when PostgreSQL accepts a connection and answers a query, else why not."""
    try:
        import psycopg
    except ImportError as exc:
        return f"psycopg is not installed ({exc})"
    try:
        with psycopg.connect(url, connect_timeout=int(PROBE_TIMEOUT)) as conn:
            conn.execute("SELECT 1")
    except Exception as exc:  # any failure means "not usable"; the reason is reported
        return f"{type(exc).__name__}: {' '.join(str(exc).split())}"
    return None


@pytest.fixture(scope="session")
def service_status(redis_url: str, amqp_url: str, postgres_url: str) -> dict[str, str | None]:
    """Per service, None when it answers, else the reason it does not (checked once)."""
    return {"redis": _probe_redis(redis_url), "amqp": _probe_amqp(amqp_url),
            "postgres": _probe_postgres(postgres_url)}


@pytest.fixture(scope="session")
def require_service(
    service_status: dict[str, str | None], redis_url: str, amqp_url: str, postgres_url: str
) -> Callable[[str], None]:
    """``require_service("redis")``: skip (or fail under RUNA_REQUIRE_SERVICES=1) when down."""
    urls = {"redis": redis_url, "amqp": amqp_url, "postgres": postgres_url}

    def require(name: str) -> None:
        problem = service_status[name]
        if problem is None:
            return
        reason = f"{name} not reachable at {_redact(urls[name])} ({problem})"
        if services_required():
            pytest.fail(f"{reason}; RUNA_REQUIRE_SERVICES=1 makes this a failure")
        pytest.skip(reason)

    return require


@pytest.fixture(autouse=True)
def _skip_by_needs(request: pytest.FixtureRequest) -> None:
    """Implement ``@pytest.mark.needs(Capability.X, ...)`` against ``driver_capabilities``."""
    needed: set[Capability] = set()
    for marker in request.node.iter_markers("needs"):
        for cap in marker.args:
            if not isinstance(cap, Capability):
                pytest.fail(f"@pytest.mark.needs takes Capability members, got {cap!r}")
            needed.add(cap)
    if not needed:
        return
    if "driver_capabilities" not in request.fixturenames:
        pytest.fail("@pytest.mark.needs used by a test that has no 'driver_capabilities' fixture")
    have: frozenset[Capability] = request.getfixturevalue("driver_capabilities")
    missing = sorted(c.value for c in needed - have)
    if missing:
        pytest.skip(f"driver lacks capability: {', '.join(missing)}")
