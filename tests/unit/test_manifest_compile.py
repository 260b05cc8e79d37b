"""A checked manifest compiles into the same frozen Registry the builder makes."""

from __future__ import annotations

import typing
from pathlib import Path

import pytest

import runa_runner as rr
from runa_runner.manifest import load_registry

REPO = Path(__file__).resolve().parents[2]

MANIFEST = f"""
app_dir: {REPO}
queues:
  critical: {{workers: [critical], retry: 3, retry_delay: 5s, timeout: 30s,
             middleware: ["examples.mail:send_email"], x-owner: ops}}
  bulk: {{retention: 24h, retry_backoff: exponential, retry_max_delay: 1m, meta: {{team: data}}}}
workers:
  critical: {{concurrency: 8, lease: 1m, poll_interval: 250ms}}
  default: {{concurrency: 2}}
jobs:
  mail.send: {{handler: "examples.mail:send_email", queue: critical, retry: 5}}
  report.build: {{handler: "examples.reports:build", queue: bulk, timeout: 2m,
                 unique_until: start, unique_for: 1h, meta: {{kind: pdf}}}}
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "jobs.yaml"
    path.write_text(text)
    return path


def test_compiles_settings_in_seconds(tmp_path: Path) -> None:
    registry = load_registry(str(write(tmp_path, MANIFEST)))
    assert registry.frozen
    critical = registry.queue_spec("critical")
    assert (critical.driver, critical.workers, critical.retry) == ("local", ("critical",), 3)
    assert (critical.retry_delay, critical.timeout) == (5.0, 30.0)
    bulk = registry.queue_spec("bulk")
    assert (bulk.retention, bulk.retry_backoff, bulk.retry_max_delay) == (86400.0,
                                                                          "exponential", 60.0)
    assert bulk.workers == ("default",) and dict(bulk.meta) == {"team": "data"}
    worker = registry.worker_spec("critical")
    assert (worker.concurrency, worker.lease, worker.poll_interval) == (8, 60.0, 0.25)


def test_no_drivers_means_sqlite_local_beside_the_manifest(tmp_path: Path) -> None:
    from runa_runner.drivers.sqlite import SQLiteDriver

    registry = load_registry(str(write(tmp_path, MANIFEST)), import_handlers=False)
    local = registry.drivers["local"]
    assert isinstance(local, SQLiteDriver)
    assert local.path == tmp_path / ".runa" / "queue.db"
    assert not local.path.exists()  # created when first opened, not by loading
    assert {q.driver for q in registry.queues.values()} == {"local"}
    assert set(registry.drivers) == {"local", "memory"}


def test_the_only_declared_driver_is_the_default(tmp_path: Path) -> None:
    text = "drivers:\n  r: {type: redis}\nqueues:\n  q: {}\n"
    registry = load_registry(str(write(tmp_path, text)), import_handlers=False)
    assert registry.queue_spec("q").driver == "r"
    assert set(registry.drivers) == {"r", "memory"}


def test_several_drivers_and_no_default_driver_keep_memory(tmp_path: Path) -> None:
    text = "drivers:\n  a: {type: sqlite}\n  b: {type: memory}\nqueues:\n  q: {}\n"
    registry = load_registry(str(write(tmp_path, text)), import_handlers=False)
    assert registry.queue_spec("q").driver == "memory"


def test_handlers_are_imported_once_with_payload_types(tmp_path: Path) -> None:
    from examples.mail import EmailJob, send_email
    from examples.reports import ReportRequest, build

    registry = load_registry(str(write(tmp_path, MANIFEST)))
    mail = registry.job_spec("mail.send")
    assert (mail.handler, mail.is_async, mail.payload_type) == (send_email, True, EmailJob)
    assert (mail.retry, mail.retry_delay, mail.handler_path) == (5, None,
                                                                 "examples.mail:send_email")
    report = registry.job_spec("report.build")
    assert (report.handler, report.is_async, report.payload_type) == (build, False, ReportRequest)
    assert (report.timeout, report.unique_until, report.unique_for) == (120.0, "start", 3600.0)
    assert registry.queue_spec("critical").middleware == (send_email,)


def test_frozen_registry_refuses_changes(tmp_path: Path) -> None:
    registry = load_registry(str(write(tmp_path, MANIFEST)))
    with pytest.raises(rr.RegistryFrozen, match="registry is frozen"):
        registry.queue("more")


def test_implicit_default_queue_uses_default_driver(tmp_path: Path) -> None:
    text = "default_driver: mem2\ndrivers:\n  mem2: {type: memory}\n"
    registry = rr.load(str(write(tmp_path, text)))
    assert list(registry.queues) == ["default"] and list(registry.workers) == ["default"]
    assert registry.queue_spec("default").driver == "mem2"
    assert set(registry.drivers) == {"memory", "mem2"}


def test_errors_are_one_config_error_with_every_line(tmp_path: Path) -> None:
    path = write(tmp_path, "queues:\n  q: {retry: x, driver: nope}\n")
    with pytest.raises(rr.ConfigError) as info:
        load_registry(str(path))
    assert str(info.value).splitlines() == [
        f"{path}:2:14: queues.q.retry: expected an integer between 0 and 1,000,000, got 'x'",
        f"{path}:2:25: queues.q.driver: unknown driver 'nope'",
    ]


def test_without_imports_handlers_are_stubs(tmp_path: Path) -> None:
    path = write(tmp_path, "jobs:\n  a.b: {handler: 'runa_no_such_module_zz:run'}\n")
    with pytest.raises(rr.ConfigError, match="cannot import module 'runa_no_such_module_zz'"):
        load_registry(str(path))
    registry = load_registry(str(path), import_handlers=False)
    spec = registry.job_spec("a.b")
    assert spec.payload_type is typing.Any and spec.handler_path == "runa_no_such_module_zz:run"
    with pytest.raises(rr.ConfigError, match="was not imported"):
        spec.handler(None)
