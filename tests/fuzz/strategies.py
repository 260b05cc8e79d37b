"""Hypothesis strategies for manifests: mostly the right shape, with wrong keys, types,
durations, references, ``${VAR}`` forms and handler paths mixed in at every level."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hypothesis import strategies as st

HANDLERS_DIR = str(Path(__file__).parent)

NAMES = st.one_of(
    st.sampled_from(["default", "critical", "bulk", "mail", "local", "redis", "redsi",
                     "a:b", "x.y", "Ω", "", " ", "workers"]),
    st.text(max_size=8),
)
ENV = st.sampled_from([
    "${FUZZ_UNSET}", "${FUZZ_UNSET:-5s}", "${FUZZ_SET}", "${FUZZ_SET:-}", "${", "$${X}",
    "${ FUZZ_SET }", "${FUZZ_UNSET:-${FUZZ_SET}}", "pre${FUZZ_SET}post",
])
DURATIONS = st.one_of(
    st.sampled_from(["100ms", "5s", "2m", "24h", "1h30m", "0", "0s", "-1s", "5", "1.5", "abc",
                     "5x", "1h-2m", "", " 5s", "1e3s", "99999999999999h", "1d", "7d", "ms",
                     "1.5.2s", "nan", "inf", "-0"]),
    st.integers(min_value=-10, max_value=10**15),
    st.floats(),
    st.booleans(),
    st.none(),
    ENV,
)
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=10),
                    DURATIONS, ENV)
VALUES: st.SearchStrategy[Any] = st.recursive(
    SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=3),
                            st.dictionaries(st.text(max_size=6), inner, max_size=3)),
    max_leaves=6,
)
HANDLER_PATHS = st.one_of(
    st.sampled_from([
        "fuzz_handlers:ok", "fuzz_handlers:order", "fuzz_handlers:sync_ok",
        "fuzz_handlers:missing", "fuzz_handlers:not_callable", "fuzz_handlers:Order",
        "no_such_module_xyz:fn", "fuzz_handlers", "", ":", "os.path:join", "a.b:c.d",
        "fuzz_handlers:ok:extra", "..fuzz:x",
    ]),
    VALUES,
)
INTS = st.one_of(st.integers(min_value=-3, max_value=300), VALUES)


def section(required: dict[str, Any], optional: dict[str, Any]) -> st.SearchStrategy[Any]:
    """A mapping with these keys (values from the strategies), plus now and then a stray key."""
    shaped = st.fixed_dictionaries(
        {k: v for k, v in required.items()}, optional={k: v for k, v in optional.items()})
    stray = st.dictionaries(st.sampled_from(["retries", "concurency", "handlr", "x-note", "?"]),
                            VALUES, max_size=1)
    both = st.tuples(shaped, stray).map(lambda parts: {**parts[0], **parts[1]})
    return st.one_of(both, both, both, VALUES)


DRIVER = section(
    {"type": st.one_of(st.sampled_from(["memory", "sqlite", "redis", "amqp", "redsi"]), VALUES)},
    {"path": st.one_of(st.just(".runa/q.db"), VALUES),
     "url": st.one_of(st.sampled_from(["redis://127.0.0.1:6379/0", "redis://:pw@h:1/0",
                                       "amqp://guest:guest@127.0.0.1:5672/", "http://x",
                                       "not a url", "redis://[::1", "${FUZZ_UNSET}"]), VALUES),
     "prefix": VALUES, "exchange": VALUES, "busy_timeout": DURATIONS, "cluster": VALUES,
     "pool_size": INTS},
)
QUEUE = section({}, {
    "driver": NAMES, "workers": st.one_of(st.lists(NAMES, max_size=3), VALUES), "retry": INTS,
    "retry_delay": DURATIONS, "retry_backoff": st.sampled_from(["fixed", "exponential", "x"]),
    "retry_max_delay": DURATIONS, "timeout": DURATIONS, "retention": DURATIONS,
    "max_payload_bytes": INTS, "meta": VALUES, "middleware": st.lists(HANDLER_PATHS, max_size=2),
})
WORKER = section({}, {
    "concurrency": INTS, "poll_interval": DURATIONS, "lease": DURATIONS,
    "stop_timeout": DURATIONS, "meta": VALUES, "middleware": st.lists(HANDLER_PATHS, max_size=2),
})
JOB = section({"handler": HANDLER_PATHS}, {
    "queue": NAMES, "retry": INTS, "retry_delay": DURATIONS, "timeout": DURATIONS,
    "unique_until": st.sampled_from(["done", "start", "never", ""]), "unique_for": DURATIONS,
    "meta": VALUES,
})

MANIFESTS = st.fixed_dictionaries({}, optional={
    "version": st.one_of(st.just(1), VALUES),
    "app_dir": st.one_of(st.just(HANDLERS_DIR), st.just(HANDLERS_DIR), st.just("/nonexistent"),
                         VALUES),
    "default_driver": NAMES,
    "drivers": st.one_of(st.dictionaries(NAMES, DRIVER, max_size=3), VALUES),
    "queues": st.one_of(st.dictionaries(NAMES, QUEUE, max_size=3), VALUES),
    "workers": st.one_of(st.dictionaries(NAMES, WORKER, max_size=3), VALUES),
    "jobs": st.one_of(st.dictionaries(NAMES, JOB, max_size=3), VALUES),
    "queue": VALUES,
    "extra": VALUES,
})

#: Pieces of broken (or merely odd) YAML, TOML and JSON text.
FRAGMENTS = st.sampled_from([
    "{", "[", "}", "key: : value", "&a [*a]", "*undefined", "!!python/object:os.system x",
    "!!binary zz", "\t- tab", "---\n---\n", "...", "a: b\na: c", "? complex\n: key",
    "jobs:\n  x: {handler: fuzz_handlers:ok}", "queues: [1, 2]", "%YAML 9.9", "\x00",
    "\ufeff", "'unterminated", '"\\x"', "[queue.queues.a]\nretry = 1", "= 1", "a = [",
    "{\"jobs\": {", "null", "~", "1e309", "<<: *x", "- - -", "version: 2", "drivers: {a: b}",
    "jobs: {j: {handler: 'fuzz_handlers:ok', queue: nowhere}}", "a: ${FUZZ_UNSET}",
    "[" * 3000, "a:\n" + "  " * 2000 + "b: 1", "{\"a\":" * 3000,
])
RAW_TEXT = st.lists(st.one_of(FRAGMENTS, st.text(max_size=20)), min_size=1, max_size=6).map(
    "\n".join)
