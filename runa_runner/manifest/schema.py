"""The manifest JSON Schema: loaded and compiled once, its errors turned into Problems."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from jsonschema import (  # type: ignore[import-untyped]  # no stubs installed
    Draft202012Validator,
    FormatChecker,
    ValidationError,
)

from ..drivers.flow import RateError, parse_rate
from ..durations import DurationError, parse_duration
from ..errors import ConfigError
from .document import Document
from .problems import Problem, did_you_mean, show

SCHEMA_NAME = "manifest.schema.json"
#: The root's property for the seed's layout (the manifest body under a ``queue`` table).
SEED_KEY = "queue"
#: Where the schema lives in a checkout (an editable install has no runa_runner/schemas/).
REPO_SCHEMA = Path(__file__).resolve().parents[2] / "schemas" / SCHEMA_NAME

_TYPE_WORDS = {
    "integer": "an integer", "number": "a number", "string": "a string",
    "boolean": "true or false", "array": "a list", "object": "a mapping", "null": "null",
}
_DURATION = "a duration like '5s' or '1h30m'"
#: The ``propertyNames`` pattern of driver, queue, worker and job names: not empty or blank.
NAME_PATTERN = "\\S"


def schema_text() -> str:
    """The schema as shipped: from the installed package, else from the checkout."""
    try:
        return resources.files("runa_runner").joinpath("schemas", SCHEMA_NAME).read_text("utf-8")
    except (FileNotFoundError, NotADirectoryError):
        pass
    try:
        return REPO_SCHEMA.read_text("utf-8")
    except OSError as exc:
        raise ConfigError(f"the manifest schema is missing from this installation: {exc}") from exc


@cache
def manifest_schema() -> dict[str, Any]:
    """The parsed schema (a dict; do not mutate)."""
    schema: dict[str, Any] = json.loads(schema_text())
    return schema


def _check_duration(value: object) -> bool:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return True  # the `type` keyword reports these
    parse_duration(value)
    return True


def _check_positive_duration(value: object) -> bool:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return True
    if parse_duration(value) <= 0:
        raise DurationError(f"expected a duration > 0, got {show(value)}")
    return True


def _check_rate(value: object) -> bool:
    if isinstance(value, str):  # the `type` keyword reports the rest
        parse_rate(value)
    return True


@cache
def validator() -> Draft202012Validator:
    """The compiled validator of a manifest body, with the ``duration``,
    ``positive-duration`` and ``rate`` formats."""
    checker = FormatChecker(formats=())
    checker.checks("duration", raises=DurationError)(_check_duration)
    checker.checks("positive-duration", raises=DurationError)(_check_positive_duration)
    checker.checks("rate", raises=RateError)(_check_rate)
    schema = manifest_schema()
    Draft202012Validator.check_schema(schema)
    # The loader has already unwrapped the seed's layout, so a body is checked without it:
    # a stray `queue` table inside a body stays an unknown key.
    body = {k: v for k, v in schema.items() if k != "dependentSchemas"}
    body["properties"] = {k: v for k, v in schema["properties"].items() if k != SEED_KEY}
    return Draft202012Validator(body, format_checker=checker)


def schema_problems(doc: Document) -> list[Problem]:
    """Every schema violation of ``doc.body``, one problem per offending key or value."""
    problems: list[Problem] = []
    for error in validator().iter_errors(doc.body):
        problems.extend(_to_problems(doc, error))
    return problems


def _to_problems(doc: Document, error: ValidationError) -> list[Problem]:
    path = tuple(error.absolute_path)
    kind, value, schema = error.validator, error.instance, error.schema
    if kind == "additionalProperties" and isinstance(value, dict):
        known = list(schema.get("properties", {}))
        extras = [k for k in value if k not in known and not str(k).startswith("x-")]
        return [
            doc.problem((*path, k), f"unknown key '{k}'" + did_you_mean(str(k), known), key=True)
            for k in extras
        ]
    if tuple(error.relative_schema_path)[-2:] in (("then", "not"), ("else", "required")) and (
            schema.get("description")):
        # an if/then/else rule (a schedule's cron or every) says what it wants
        return [doc.problem(path, str(schema["description"]))]
    if kind == "pattern" and schema.get("pattern") == NAME_PATTERN:  # under propertyNames
        return [doc.problem((*path, value), "a name must not be empty or blank", key=True)]
    if kind == "required":
        missing = [k for k in error.validator_value if k not in value]
        return [doc.problem(path, f"missing required key '{k}'", key=True) for k in missing]
    return [doc.problem(path, _message(kind, value, schema, error))]


def _message(kind: Any, value: Any, schema: dict[str, Any], error: ValidationError) -> str:
    if kind == "format" and error.cause is not None:
        return str(error.cause)
    if kind == "const" and path_is_version(error):
        return f"unsupported version {show(value)} (expected 1)"
    if kind == "enum":
        choices = [str(c) for c in schema["enum"]]
        hint = did_you_mean(value, choices) if isinstance(value, str) else ""
        return f"expected one of {', '.join(map(repr, choices))}, got {show(value)}{hint}"
    if kind == "pattern":
        return f"expected an import path like 'pkg.module:function', got {show(value)}"
    if kind in ("type", "minimum", "exclusiveMinimum", "maximum"):
        return f"expected {expected(schema)}, got {show(value)}"
    return str(error.message)


def path_is_version(error: ValidationError) -> bool:
    return list(error.absolute_path) == ["version"]


def expected(schema: dict[str, Any]) -> str:
    """What a schema node accepts, in words (``an integer >= 0``)."""
    if str(schema.get("format", "")).endswith("duration"):
        return _DURATION
    types = schema.get("type")
    names = [types] if isinstance(types, str) else list(types or [])
    words = " or ".join(_TYPE_WORDS.get(t, t) for t in names) or "a valid value"
    if "minimum" in schema and "maximum" in schema:
        return f"{words} between {schema['minimum']:,} and {schema['maximum']:,}"
    if "minimum" in schema:
        words += f" >= {schema['minimum']}"
    if "exclusiveMinimum" in schema:
        words += f" > {schema['exclusiveMinimum']}"
    return str(words)
