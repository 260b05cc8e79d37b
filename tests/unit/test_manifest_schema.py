"""The JSON Schema: valid 2020-12, documented everywhere, shipped inside the wheel."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator  # type: ignore[import-untyped]

from runa_runner.cli import main
from runa_runner.manifest import manifest_schema, schema_text

REPO = Path(__file__).resolve().parents[2]
SCHEMA_FILE = REPO / "schemas" / "manifest.schema.json"


def properties(node: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    """Every (path, schema) under a ``properties`` or ``patternProperties`` keyword."""
    if isinstance(node, dict):
        for keyword in ("properties", "patternProperties"):
            for name, sub in node.get(keyword, {}).items():
                yield f"{path}.{name}", sub
        for key, sub in node.items():
            yield from properties(sub, f"{path}/{key}")
    elif isinstance(node, list):
        for i, sub in enumerate(node):
            yield from properties(sub, f"{path}[{i}]")


def test_schema_is_valid_2020_12() -> None:
    schema = manifest_schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    Draft202012Validator.check_schema(schema)


def test_every_property_has_a_description() -> None:
    found = list(properties(manifest_schema()))
    assert len(found) > 40
    # `if` conditions only select a branch; the documented keys live in `then`.
    missing = [path for path, sub in found if not sub.get("description") and "/if" not in path]
    assert missing == []


def test_driver_keys_are_chosen_by_type_with_if_then() -> None:
    driver = manifest_schema()["$defs"]["driver"]
    assert "oneOf" not in json.dumps(manifest_schema())
    by_type = {rule["if"]["properties"]["type"]["const"]: rule["then"] for rule in driver["allOf"]}
    assert set(by_type) == {"memory", "sqlite", "redis", "amqp", "postgres"}
    assert set(by_type["redis"]["properties"]) == {
        "type", "url", "prefix", "cluster", "pool_size", "socket_timeout",
        "socket_connect_timeout"}
    assert set(by_type["postgres"]["properties"]) == {"type", "url", "schema", "pool_size",
                                                      "notify"}
    assert all(rule["additionalProperties"] is False for rule in by_type.values())


def test_schema_command_prints_it(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schema"]) == 0
    assert json.loads(capsys.readouterr().out) == json.loads(SCHEMA_FILE.read_text())
    assert schema_text() == SCHEMA_FILE.read_text()


def test_wheel_ships_the_schema_and_loads_it_from_the_zip(tmp_path: Path) -> None:
    build = subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(tmp_path),
         str(REPO)], capture_output=True, text=True, timeout=120,
    )
    assert build.returncode == 0, build.stderr[-2000:]
    (wheel,) = tmp_path.glob("runa_runner-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        shipped = archive.read("runa_runner/schemas/manifest.schema.json").decode()
    assert json.loads(shipped) == json.loads(SCHEMA_FILE.read_text())
    # Import runa_runner from the zip itself: the loader must read the schema from there.
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]);"
        "import runa_runner.manifest.schema as s;"
        "assert '.whl' in s.__file__, s.__file__;"
        "print(s.schema_text(), end='')"
    )
    run = subprocess.run([sys.executable, "-c", code, str(wheel)], capture_output=True,
                         text=True, timeout=60, cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert run.stdout == shipped
