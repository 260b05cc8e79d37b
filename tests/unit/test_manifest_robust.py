"""Whatever the file holds, checking it yields problems, never a traceback."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from runa_runner.manifest import check_manifest

WORDS = ["version", "drivers", "queues", "workers", "jobs", "default_driver", "app_dir", "type",
         "memory", "sqlite", "amqp", "driver", "retry", "retry_delay", "timeout", "lease",
         "handler", "queue", "unique_until", "concurrency", "meta", "middleware", "x-a",
         "retention", "stop_timeout", "retry_backoff", "default"]
scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-5, 100), st.floats(allow_nan=False, width=32),
    st.sampled_from(["5s", "1h30m", "-1s", "a:b", "x.y:z", "${HOME}", "${UNSET_RUNA_X}",
                     "fixed", "done", "memory"]),
    st.text(max_size=8),
)
documents = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3)
    | st.dictionaries(st.sampled_from(WORDS) | st.text(max_size=5), inner, max_size=5),
    max_leaves=25,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(documents, st.sampled_from([".yaml", ".json"]))
def test_any_document_gives_problems_not_exceptions(data: Any, suffix: str) -> None:
    text = json.dumps(data) if suffix == ".json" else yaml.safe_dump(data)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"m{suffix}"
        path.write_text(text)
        problems, _ = check_manifest(path, import_handlers=False)
    for problem in problems:
        assert problem.line >= 1 and problem.column >= 1 and problem.message


names = st.sampled_from(["default", "memory", "a", "b", "critical"])
entries = st.dictionaries(names, st.dictionaries(st.sampled_from(WORDS), documents, max_size=4)
                          | scalars, max_size=3)
manifests = st.fixed_dictionaries(
    {}, optional={"drivers": entries, "queues": entries, "workers": entries, "jobs": entries,
                  "default_driver": scalars | names, "version": scalars},
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(manifests)
def test_manifest_shaped_documents_give_problems_not_exceptions(data: Any) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "m.yaml"
        path.write_text(yaml.safe_dump(data))
        problems, _ = check_manifest(path, import_handlers=False)
    assert all(p.line >= 1 and p.column >= 1 for p in problems)
