"""Each built-in driver type declares its manifest keys once (``DRIVER_TYPE.config``);
the shipped JSON Schema's per-type block must say the same keys, kinds and defaults."""

from __future__ import annotations

from typing import Any

import pytest

from runa_runner.drivers import BUILTIN, driver_type
from runa_runner.drivers.base import ConfigKey, DriverType
from runa_runner.manifest.schema import manifest_schema

#: How a ConfigKey's kind reads in the schema.
KINDS = {
    "string": {"type": "string"},
    "integer": {"type": "integer"},
    "boolean": {"type": "boolean"},
    "duration": {"$ref": "#/$defs/duration"},
}


def schema_blocks() -> dict[str, dict[str, Any]]:
    """type name -> the ``then.properties`` of its ``if type == name`` block."""
    blocks = {}
    for rule in manifest_schema()["$defs"]["driver"]["allOf"]:
        name = rule["if"]["properties"]["type"]["const"]
        blocks[name] = rule["then"]["properties"]
    return blocks


def loadable(name: str) -> DriverType:
    try:
        return driver_type(name)
    except ImportError as exc:  # an optional extra not installed here
        pytest.skip(f"driver type {name} not importable: {exc}")


def test_the_schema_has_one_block_per_builtin_type() -> None:
    assert sorted(schema_blocks()) == sorted(BUILTIN)


@pytest.mark.parametrize("name", list(BUILTIN))
def test_the_schema_block_says_what_the_driver_type_declares(name: str) -> None:
    kind = loadable(name)
    block = schema_blocks()[name]
    assert kind.name == name
    assert set(block) - {"type"} == {k.name for k in kind.config}
    for key in kind.config:
        prop = block[key.name]
        for word, value in KINDS[key.kind].items():
            assert prop.get(word) == value, (name, key.name, word)
        if "default" in prop:
            assert prop["default"] == key.default, (name, key.name)


def test_durations_are_the_keys_of_kind_duration() -> None:
    kind = DriverType("x", frozenset(), (ConfigKey("a", "duration"), ConfigKey("b", "string")),
                      lambda config, base: None)  # type: ignore[arg-type,return-value]
    assert kind.durations == {"a"}
    assert kind.key("b") == ConfigKey("b", "string")
    assert kind.key("c") is None
