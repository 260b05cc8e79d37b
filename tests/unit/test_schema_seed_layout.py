"""The shipped schema accepts the seed's TOML layout exactly as ``validate`` does.

Editors and other tools only see the JSON Schema, so a document ``validate``
accepts must pass it, and one ``validate`` refuses for its shape must fail it.
"""

from __future__ import annotations

import json
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator  # type: ignore[import-untyped]

REPO = Path(__file__).resolve().parents[2]

BAD_SEED = """\
[queue.queues.default]
workers = ["default"]
retry = "3"
[queue.workers.default]
concurrency = 4
"""


@pytest.fixture(scope="module")
def schema() -> Any:
    """The schema exactly as users get it: printed by ``runa-runner schema``."""
    out = subprocess.run(["runa-runner", "schema"], capture_output=True, text=True, check=True,
                         timeout=60).stdout
    shipped = json.loads(out)
    assert shipped == json.loads((REPO / "schemas" / "manifest.schema.json").read_text())
    Draft202012Validator.check_schema(shipped)
    return shipped


def errors(schema: Any, data: Any) -> list[tuple[list[Any], str]]:
    found = Draft202012Validator(schema).iter_errors(data)
    return sorted(((list(e.absolute_path), e.message) for e in found), key=repr)


def validate(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["runa-runner", "validate", "--no-import", "-c", str(path)],
                          capture_output=True, text=True, timeout=60)


def test_the_seed_example_passes_the_schema_and_validate(schema: Any) -> None:
    seed = REPO / "examples" / "seed.toml"
    data = tomllib.loads(seed.read_text())
    assert set(data) == {"queue"}  # really the seed's layout, not the canonical one
    assert errors(schema, data) == []
    assert validate(seed).returncode == 0


def test_the_repo_manifest_passes_the_schema(schema: Any) -> None:
    data = yaml.safe_load((REPO / "jobs.yaml").read_text())
    assert errors(schema, data) == []


def test_a_wrong_type_inside_the_seed_layout_is_refused_by_both(
    schema: Any, tmp_path: Path
) -> None:
    found = errors(schema, tomllib.loads(BAD_SEED))
    assert [path for path, _ in found] == [["queue", "queues", "default", "retry"]]
    bad = tmp_path / "seed.toml"
    bad.write_text(BAD_SEED)
    result = validate(bad)
    assert result.returncode == 1
    assert ("queue.queues.default.retry: expected an integer between 0 and 1,000,000, got '3'"
            in result.stdout)


def test_an_unknown_key_inside_the_seed_layout_is_refused(schema: Any) -> None:
    data = tomllib.loads(BAD_SEED.replace('retry = "3"', "retyr = 3"))
    assert [path for path, _ in errors(schema, data)] == [["queue", "queues", "default"]]


def test_a_queue_table_beside_the_canonical_keys_is_still_an_unknown_key(
    schema: Any, tmp_path: Path
) -> None:
    # Next to `queues`, `queue` is a typo, not the seed's layout: the loader says so too.
    text = "queues:\n  a: {}\nqueue:\n  queues: {}\n"
    assert [path for path, _ in errors(schema, yaml.safe_load(text))] == [[]]
    manifest = tmp_path / "jobs.yaml"
    manifest.write_text(text)
    result = validate(manifest)
    assert result.returncode == 1
    assert "queue: unknown key 'queue' (did you mean 'queues'?)" in result.stdout
