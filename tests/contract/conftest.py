"""The contract tier: every test here runs once per driver (memory, sqlite, redis, amqp,
postgres).

Fixtures:

* ``driver_name`` — the parameter; ``driver_capabilities`` — that driver's capabilities
  (used by ``@pytest.mark.needs``).
* ``make_driver()`` — a new, unopened driver instance over this test's own namespace
  (a fresh sqlite file, a unique Redis key prefix, a unique AMQP queue prefix, a
  PostgreSQL schema of its own). Two
  calls give two instances over the same data where the driver is cross-process,
  which is how a test plays "another worker process".
* ``make_sibling_driver()`` — the same over a second namespace (prefix isolation).
* ``driver`` — one opened instance from ``make_driver``.
* ``make_registry(...)`` — a frozen registry built with the builder on that driver.

Everything a test created is removed afterwards: queues purged, Redis keys deleted,
AMQP queues deleted, PostgreSQL schemas dropped. A driver module that does not exist
yet (its owner is still writing it) skips its parameter; a service that does not
answer skips too, or fails under ``RUNA_REQUIRE_SERVICES=1``.
"""

from __future__ import annotations

import contextlib
import importlib
import uuid
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

import runa_runner as rr
from runa_runner.drivers import driver_type
from runa_runner.drivers.base import Capability, Driver

from .drivers import TABLE
from .helpers import DRIVER, QUEUE, TOUCHED, WORKER, Namespace, cleanup_namespace

#: Every driver the suite runs, from its one table (tests/contract/drivers.py).
DRIVERS = list(TABLE)


@pytest.fixture(params=DRIVERS)
def driver_name(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


@pytest.fixture
def driver_class(driver_name: str, require_service: Callable[[str], None]) -> Any:
    spec = TABLE[driver_name]
    if spec.service is not None:
        require_service(spec.service)
    try:
        return getattr(importlib.import_module(spec.module), spec.cls)
    except (ImportError, AttributeError) as exc:
        pytest.skip(f"driver not available yet ({driver_name}: {exc})")


@pytest.fixture
def driver_capabilities(driver_name: str, driver_class: Any) -> frozenset[Capability]:
    return driver_type(driver_name).capabilities


@pytest.fixture
def namespace(
    driver_name: str, driver_class: Any, tmp_path: Path, redis_url: str, amqp_url: str,
    postgres_url: str,
) -> Namespace:
    return Namespace(driver_name, driver_class, tmp_path, redis_url, amqp_url, uuid.uuid4().hex,
                     postgres_url=postgres_url)


async def _factory(ns: Namespace) -> AsyncIterator[Callable[[], Driver]]:
    """Yield a maker of unopened drivers over ``ns``; clean up all it made afterwards."""
    made: list[Driver] = []

    def make() -> Driver:
        drv = ns.build()
        made.append(drv)
        return drv

    yield make
    await cleanup_namespace(ns, made)


@pytest.fixture
async def make_driver(namespace: Namespace) -> AsyncIterator[Callable[[], Driver]]:
    """Factory: a new unopened driver over this test's namespace; all cleaned up after."""
    async for make in _factory(namespace):
        yield make


@pytest.fixture
async def make_sibling_driver(namespace: Namespace) -> AsyncIterator[Callable[[], Driver]]:
    """Factory: a driver over a second namespace (own prefix, same servers and exchange)."""
    async for make in _factory(namespace.sibling()):
        yield make


@pytest.fixture
async def driver(make_driver: Callable[[], Driver]) -> AsyncIterator[Driver]:
    """One opened driver instance (closed after the test)."""
    drv = make_driver()
    await drv.open()
    yield drv
    with contextlib.suppress(Exception):
        await drv.close()


JobDecl = Callable[..., Any] | tuple[Callable[..., Any], Mapping[str, Any]]


@pytest.fixture
async def make_registry(
    make_driver: Callable[[], Driver],
) -> AsyncIterator[Callable[..., rr.Registry]]:
    """Factory for a frozen registry on the test's driver (registered as ``DRIVER``).

    ``make_registry(jobs={"j": handler, "k": (handler, {"retry": 2})},
    queues={"q": {"retry": 1}}, workers={"w": {"concurrency": 4}},
    push_middleware=[...], run_middleware=[...], driver=...)``. Queues default to
    ``{"q": {}}`` served by every declared worker; workers default to ``{"w": {}}``
    with a short poll interval; jobs go to the first queue unless they name one.
    ``driver`` replaces the test's driver (e.g. a recording wrapper of one from
    ``make_driver``).
    """
    registries: list[rr.Registry] = []

    def make(
        jobs: Mapping[str, JobDecl] | None = None,
        queues: Mapping[str, Mapping[str, Any]] | None = None,
        workers: Mapping[str, Mapping[str, Any]] | None = None,
        push_middleware: tuple[Any, ...] | list[Any] = (),
        run_middleware: tuple[Any, ...] | list[Any] = (),
        driver: Driver | None = None,
    ) -> rr.Registry:
        reg = rr.Registry().driver(DRIVER, driver if driver is not None else make_driver())
        workers = workers if workers is not None else {WORKER: {}}
        queues = queues if queues is not None else {QUEUE: {}}
        for name, opts in workers.items():
            reg.worker(name, **{"poll_interval": 0.01, **opts})
        for name, opts in queues.items():
            TOUCHED.add(name)
            reg.queue(name, **{"driver": DRIVER, "workers": list(workers), **opts})
        first_queue = next(iter(queues))
        for name, decl in (jobs or {}).items():
            handler, opts = decl if isinstance(decl, tuple) else (decl, {})
            reg.job(name, handler, **{"queue": first_queue, **opts})
        for mw in push_middleware:
            reg.use_push(mw)
        for mw in run_middleware:
            reg.use_run(mw)
        reg.freeze()
        registries.append(reg)
        return reg

    yield make
    for reg in registries:
        with contextlib.suppress(Exception):
            await reg.close()


@pytest.fixture(autouse=True)
def _contract_needs_driver(driver_capabilities: frozenset[Capability]) -> Iterator[None]:
    # Every contract test is parametrised by driver, even one that only uses
    # make_registry, so `needs` always has capabilities to check.
    yield
