"""One range per number (limits.py), enforced alike by the schema, the Python API and the CLI.

Issue 12, findings 6, 8 and 20: NaN, infinity, huge integers and empty or repeated
names are refused with one line naming the option, at every door.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

import runa_runner as rr
from runa_runner.cli import main
from runa_runner.errors import ConfigError
from runa_runner.limits import (
    MAX_CONCURRENCY,
    MAX_DURATION,
    MAX_PAYLOAD_BYTES,
    MAX_RETRY,
)
from runa_runner.manifest import check_manifest

TEN_YEARS = "at most 315360000 seconds (10 years)"


def handler(job: Any) -> None:
    """A valid handler."""


# ---- the Python API: builder options -----------------------------------------------


@pytest.mark.parametrize(
    ("declare", "message"),
    [
        (lambda r: r.job("j", handler, retry_delay=math.nan),
         "job 'j': retry_delay must be a number of seconds, not NaN"),
        (lambda r: r.job("j", handler, timeout=math.inf),
         f"job 'j': timeout must be at least 0 and {TEN_YEARS}, got inf"),
        (lambda r: r.job("j", handler, unique_for=10**400),
         f"job 'j': unique_for must be at least 0 and {TEN_YEARS}, got a 1329-bit integer"),
        (lambda r: r.job("j", handler, retry=MAX_RETRY + 1),
         "job 'j': retry must be between 0 and 1,000,000, got 1000001"),
        (lambda r: r.job("j", handler, retry=2.5),
         "job 'j': retry must be a whole number, not float"),
        (lambda r: r.queue("q", retry_delay=-1),
         f"queue 'q': retry_delay must be at least 0 and {TEN_YEARS}, got -1"),
        (lambda r: r.queue("q", retention=math.nan),
         "queue 'q': retention must be a number of seconds, not NaN"),
        (lambda r: r.queue("q", retry_max_delay=1e308),
         f"queue 'q': retry_max_delay must be at least 0 and {TEN_YEARS}, got 1e+308"),
        (lambda r: r.queue("q", max_payload_bytes=MAX_PAYLOAD_BYTES + 1),
         "queue 'q': max_payload_bytes must be between 1 and 16,777,216, got 16777217"),
        (lambda r: r.queue("q", retry=-1),
         "queue 'q': retry must be between 0 and 1,000,000, got -1"),
        (lambda r: r.worker("w", concurrency=0),
         "worker 'w': concurrency must be between 1 and 10,000, got 0"),
        (lambda r: r.worker("w", lease=0),
         f"worker 'w': lease must be more than 0 and {TEN_YEARS}, got 0"),
        (lambda r: r.worker("w", poll_interval=math.nan),
         "worker 'w': poll_interval must be a number of seconds, not NaN"),
        (lambda r: r.worker("w", stop_timeout="30s"),
         "worker 'w': stop_timeout must be a number of seconds, not str"),
    ],
)
def test_builder_refuses_out_of_range_options(declare: Any, message: str) -> None:
    registry = rr.Registry()
    with pytest.raises(ConfigError) as caught:
        declare(registry)
    assert str(caught.value) == message
    assert not registry.jobs and not registry.queues and not registry.workers


def test_builder_accepts_the_bounds() -> None:
    r = rr.Registry()
    r.queue("q", retry=MAX_RETRY, retry_delay=MAX_DURATION, timeout=0, retention=0,
            max_payload_bytes=MAX_PAYLOAD_BYTES)
    r.worker("w", concurrency=MAX_CONCURRENCY, lease=1e-3, poll_interval=1e-3, stop_timeout=0)
    r.job("j", handler, queue="q", retry=0, unique_for=MAX_DURATION)
    assert r.queue_spec("q").retry == MAX_RETRY


# ---- the Python API: push options ---------------------------------------------------


def _frozen() -> rr.Registry:
    r = rr.Registry()
    r.job("j", handler)
    return r.freeze()


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"retry_delay": math.nan}, "push option retry_delay must be a number of seconds, not NaN"),
        ({"timeout": math.nan}, "push option timeout must be a number of seconds, not NaN"),
        ({"unique_for": math.nan}, "push option unique_for must be a number of seconds, not NaN"),
        ({"delay": math.inf}, f"push option delay must be at least 0 and {TEN_YEARS}, got inf"),
        ({"delay": 1e30}, f"push option delay must be at least 0 and {TEN_YEARS}, got 1e+30"),
        ({"retry": 99999999999999999999999},
         "push option retry must be between 0 and 1,000,000, got 99999999999999999999999"),
        ({"retry": -1}, "push option retry must be between 0 and 1,000,000, got -1"),
        ({"timeout": True}, "push option timeout must be a number of seconds, not bool"),
    ],
)
def test_push_refuses_out_of_range_options_and_stores_nothing(
    options: dict[str, Any], message: str
) -> None:
    registry = _frozen()
    with pytest.raises(ConfigError) as caught:
        registry.push_sync("j", {"a": 1}, **options)
    assert str(caught.value) == message
    assert registry.run_sync(registry.queue_info())[0].pending == 0


def test_push_accepts_the_bounds() -> None:
    registry = _frozen()
    registry.push_sync("j", {}, delay=MAX_DURATION, retry=MAX_RETRY, retry_delay=0,
                       timeout=MAX_DURATION, unique_for=MAX_DURATION)
    assert registry.run_sync(registry.queue_info())[0].delayed == 1


# ---- names (finding 20) ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("declare", "message"),
    [
        (lambda r: r.job("", handler), "job name must be a non-empty string, got ''"),
        (lambda r: r.job("j", handler).job("j", handler), "job 'j' is already declared"),
        (lambda r: r.job("j")(handler) and r.job("j")(handler), "job 'j' is already declared"),
        (lambda r: r.queue(" "), "queue name must be a non-empty string, got ' '"),
        (lambda r: r.queue("q").queue("q"), "queue 'q' is already declared"),
        (lambda r: r.worker(""), "worker name must be a non-empty string, got ''"),
        (lambda r: r.worker("w").worker("w"), "worker 'w' is already declared"),
        (lambda r: r.driver("", rr.drivers.MemoryDriver()),
         "driver name must be a non-empty string, got ''"),
        (lambda r: r.driver("d", rr.drivers.MemoryDriver()).driver("d", rr.drivers.MemoryDriver()),
         "driver 'd' is already declared"),
    ],
)
def test_empty_and_repeated_names_are_refused(declare: Any, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        declare(rr.Registry())
    assert str(caught.value) == message


def test_the_implicit_memory_driver_may_be_replaced_once() -> None:
    r = rr.Registry()
    mine = rr.drivers.MemoryDriver()
    r.driver("memory", mine)
    assert r.drivers["memory"] is mine


# ---- the CLI ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--retry", "99999999999999999999999",
         "argument --retry: expected a whole number between 0 and 1,000,000, got "
         "'99999999999999999999999'"),
        ("--retry", "1000001",
         "argument --retry: expected a whole number between 0 and 1,000,000, got '1000001'"),
        ("--delay", "1e30",
         "argument --delay: expected a duration of at most 10 years, got '1e30'"),
        ("--retry-delay", "nan",
         "argument --retry-delay: invalid duration 'nan' "
         "(expected e.g. '100ms', '5s', '2m', '24h', '1h30m')"),
        ("--timeout", "3651d",
         "argument --timeout: expected a duration of at most 10 years, got '3651d'"),
        ("--unique-for", "1" + "0" * 400,
         "argument --unique-for: expected a duration of at most 10 years, got "
         "'100000000000000000000000000000000000..."),
    ],
)
def test_cli_push_refuses_out_of_range_options_as_usage_errors(
    option: str, value: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["push", "j", "--json", "{}", option, value])
    assert caught.value.code == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.splitlines()[-1] == (
        f"runa-runner push: error: {message} (see 'runa-runner push --help')")


# ---- the three doors agree ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("section", "key", "value", "ok"),
    [
        ("queues", "retry", MAX_RETRY, True),
        ("queues", "retry", MAX_RETRY + 1, False),
        ("queues", "retry_delay", MAX_DURATION, True),
        ("queues", "retry_delay", MAX_DURATION + 1, False),
        ("queues", "timeout", 0, True),
        ("queues", "max_payload_bytes", MAX_PAYLOAD_BYTES, True),
        ("queues", "max_payload_bytes", MAX_PAYLOAD_BYTES + 1, False),
        ("workers", "concurrency", MAX_CONCURRENCY, True),
        ("workers", "concurrency", MAX_CONCURRENCY + 1, False),
        ("workers", "lease", 0, False),
        ("workers", "poll_interval", 0, False),
        ("workers", "stop_timeout", 0, True),
    ],
)
def test_schema_and_builder_agree(
    section: str, key: str, value: float, ok: bool, tmp_path: Path
) -> None:
    name = "default"
    manifest = tmp_path / "jobs.yaml"
    manifest.write_text(f"{section}:\n  {name}: {{{key}: {value!r}}}\n")
    problems, _ = check_manifest(manifest, import_handlers=False)
    schema_ok = not [p for p in problems if p.is_error]
    declare = rr.Registry().queue if section == "queues" else rr.Registry().worker
    try:
        declare(name, **{key: value})
        api_ok = True
    except ConfigError:
        api_ok = False
    assert (schema_ok, api_ok) == (ok, ok)


# ---- handler shapes (finding 17): the builder refuses what a worker could not call ------------


def two_arguments(job: Any, extra: Any) -> None:
    """Needs a second argument a worker never gives."""


def keyword_only(job: Any, *, client: Any) -> None:
    """Needs a keyword argument a worker never gives."""


def no_argument() -> None:
    """Cannot take the job."""


def defaults(job: Any, extra: Any = None, *rest: Any, client: Any = None, **more: Any) -> None:
    """Callable as handler(job)."""


def star_args(*args: Any) -> None:
    """Callable as handler(job)."""


async def agen(job: Any) -> Any:
    yield job


@pytest.mark.parametrize(
    ("handler_fn", "message"),
    [
        (two_arguments, f"handler {__name__}:two_arguments must accept one argument "
         "(the job): it requires 2 positional arguments (job, extra); give the others defaults"),
        (keyword_only, f"handler {__name__}:keyword_only must accept one argument "
         "(the job): it also requires the keyword argument client; give it a default"),
        (no_argument, f"handler {__name__}:no_argument must accept one argument "
         "(the job): it takes no argument"),
        (agen, f"handler {__name__}:agen is a generator function (it uses yield): "
         "a handler must return or await, not yield"),
    ],
)
def test_builder_refuses_handlers_a_worker_cannot_call(handler_fn: Any, message: str) -> None:
    registry = rr.Registry()
    with pytest.raises(ConfigError) as caught:
        registry.job("j", handler_fn)
    assert str(caught.value) == message
    assert "j" not in registry.jobs


@pytest.mark.parametrize("handler_fn", [defaults, star_args, handler])
def test_builder_accepts_handlers_callable_with_the_job(handler_fn: Any) -> None:
    assert rr.Registry().job("j", handler_fn).job_spec("j").handler is handler_fn
