"""Loading YAML, TOML and JSON with positions; the seed layout; env expansion; finding the file."""

from __future__ import annotations

from pathlib import Path

import pytest

from runa_runner.errors import ConfigError
from runa_runner.manifest import check_manifest, find_manifest
from runa_runner.manifest.source import read_document

REPO = Path(__file__).resolve().parents[2]


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_yaml_positions_point_at_values_and_keys(tmp_path: Path) -> None:
    path = write(tmp_path, "m.yaml", "queues:\n  mail:\n    retry: 3\n    workers: [a, b]\n")
    doc = read_document(path, "m.yaml")
    assert doc.position(("queues", "mail", "retry")) == (3, 12)
    assert doc.position(("queues", "mail", "retry"), key=True) == (3, 5)
    assert doc.position(("queues", "mail", "workers", 1)) == (4, 18)
    # Unknown paths fall back to the nearest parent.
    assert doc.position(("queues", "mail", "nope")) == (3, 5)


def test_toml_and_json_positions(tmp_path: Path) -> None:
    toml = write(tmp_path, "m.toml", '[queues.mail]\nretry = 3\nworkers = ["a", "b"]\n')
    doc = read_document(toml, "m.toml")
    assert doc.position(("queues", "mail", "retry")) == (2, 9)
    assert doc.position(("queues", "mail", "workers", 1)) == (3, 17)
    js = write(tmp_path, "m.json", '{\n  "queues": {"mail": {"retry": 3}}\n}\n')
    doc = read_document(js, "m.json")
    assert doc.position(("queues", "mail", "retry")) == (2, 32)
    assert doc.position(("queues", "mail"), key=True) == (2, 14)


def test_seed_layout_is_the_body_and_paths_keep_the_prefix(tmp_path: Path) -> None:
    path = write(tmp_path, "app.toml", (
        '[http]\nport = 8080\n\n[queue.queues.default]\nretry = "x"\n'
        '[queue.workers.default]\nconcurrency = 2\n'))
    problems, doc = check_manifest(path)
    assert doc is not None and doc.prefix == ("queue",)
    assert [p.format() for p in problems] == [
        f"{path}:5:9: queue.queues.default.retry: "
        "expected an integer between 0 and 1,000,000, got 'x'"
    ]


def test_shipped_seed_toml_validates() -> None:
    problems, doc = check_manifest(REPO / "examples" / "seed.toml")
    assert problems == []
    assert doc is not None and doc.body["queues"]["default"]["retry"] == 3


def test_env_expansion_in_strings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RUNA_TEST_DB", "jobs.db")
    path = write(tmp_path, "m.yaml", (
        "drivers:\n  local: {type: sqlite, path: '${RUNA_TEST_DB}', busy_timeout: '${T:-2s}'}\n"))
    problems, doc = check_manifest(path, import_handlers=False)
    assert doc is not None
    assert doc.body["drivers"]["local"] == {
        "type": "sqlite", "path": "jobs.db", "busy_timeout": "2s"}
    assert problems == []


def test_yaml_merge_keys_and_extension_keys(tmp_path: Path) -> None:
    path = write(tmp_path, "m.yaml", (
        "x-base: &base {retry: 2, timeout: 10s}\n"
        "queues:\n  a: {<<: *base, workers: [default]}\n  b:\n    <<: *base\n    x-note: hi\n"))
    problems, doc = check_manifest(path)
    assert problems == []
    assert doc is not None and doc.body["queues"]["a"]["retry"] == 2


def test_find_manifest_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("RUNA_CONFIG", raising=False)
    with pytest.raises(ConfigError, match=r"^manifest 'jobs.yaml' not found$"):
        find_manifest(None)
    write(tmp_path, "jobs.yaml", "{}\n")
    write(tmp_path, "other.yaml", "{}\n")
    assert find_manifest(None) == Path("jobs.yaml")
    monkeypatch.setenv("RUNA_CONFIG", "other.yaml")
    assert find_manifest(None) == Path("other.yaml")
    assert find_manifest("jobs.yaml") == Path("jobs.yaml")
    monkeypatch.setenv("RUNA_CONFIG", "gone.yaml")
    with pytest.raises(ConfigError, match=r"manifest 'gone.yaml' \(\$RUNA_CONFIG\) not found"):
        find_manifest(None)
    with pytest.raises(ConfigError, match="is not a file"):
        find_manifest(str(tmp_path))


def test_explicit_empty_json_mapping_is_valid(tmp_path: Path) -> None:
    problems, doc = check_manifest(write(tmp_path, "m.json", "{}"))
    assert problems == [] and doc is not None
