"""Generated manifests, valid and broken, through ``runa-runner validate`` (in-process).

Every case ends with exit 0 or 1 and clear lines: each problem line names the file
(``FILE:LINE:COL: PATH: message``), never a traceback or an internal exception's repr.
A manifest that ``validate`` accepts also compiles (no surprise at ``work`` time).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from runa_runner.cli import main
from runa_runner.errors import ConfigError
from runa_runner.manifest import load_registry

from .conftest import assert_clear, fuzz
from .strategies import MANIFESTS, RAW_TEXT

FORMATS = st.sampled_from(["yaml", "json"])
FLAGS = st.lists(st.sampled_from([["--no-import"], ["--format", "json"]]), max_size=2,
                 unique_by=lambda flag: flag[0]).map(lambda f: [x for flag in f for x in flag])


@pytest.fixture(autouse=True)
def _env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FUZZ_SET", "2s")
    monkeypatch.delenv("FUZZ_UNSET", raising=False)
    monkeypatch.delenv("RUNA_CONFIG", raising=False)


def write(folder: Path, body: Any, fmt: str) -> Path:
    path = folder / f"jobs.{fmt}"
    if fmt == "json":
        path.write_text(json.dumps(body), encoding="utf-8")
    else:
        path.write_text(yaml.safe_dump(body, allow_unicode=True), encoding="utf-8")
    return path


def validate(path: Path, flags: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    capsys.readouterr()
    code = main(["validate", "-c", str(path), *flags])
    out, err = capsys.readouterr()
    assert_clear(out + err)
    assert code in (0, 1), (code, out, err)
    for line in err.split("\n")[:-1]:
        assert line.startswith("runa-runner: "), err
    if "--format" in flags:
        problems = json.loads(out)
        assert isinstance(problems, list)
        assert all(set(p) >= {"file", "line", "column", "path", "message"} for p in problems)
    else:
        for line in out.split("\n")[:-1]:  # not splitlines(): names may hold \x1e, \x85
            assert line.startswith(f"{path}:"), f"unclear line {line!r} in:\n{out}"
    return code, out


@fuzz(700)
@given(body=MANIFESTS, fmt=FORMATS, flags=FLAGS)
def test_generated_manifests_validate_with_clear_lines(
    body: dict[str, Any], fmt: str, flags: list[str], tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = write(tmp_path, body, fmt)
    code, out = validate(path, flags, capsys)
    if code == 0:
        try:
            load_registry(path, import_handlers="--no-import" not in flags)
        except ConfigError as exc:
            pytest.fail(f"validate accepted {path} but loading it failed: {exc}\n{out}")


@fuzz(400)
@given(text=RAW_TEXT, suffix=st.sampled_from(["yaml", "yml", "json", "toml"]),
       flags=FLAGS)
def test_broken_text_validates_with_clear_lines(
    text: str, suffix: str, flags: list[str], tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = tmp_path / f"jobs.{suffix}"
    path.write_bytes(text.encode("utf-8", "surrogatepass"))
    validate(path, flags, capsys)


#: Every numeric setting, by where it sits in a manifest.
NUMERIC_KEYS = (
    [("queues", "q", k) for k in ("retry", "retry_delay", "retry_max_delay", "timeout",
                                   "retention", "max_payload_bytes")]
    + [("workers", "default", k) for k in ("concurrency", "poll_interval", "lease",
                                           "stop_timeout")]
    + [("jobs", "j", k) for k in ("retry", "retry_delay", "timeout", "unique_for")]
)
HOSTILE_NUMBERS = st.one_of(
    st.integers(), st.integers(min_value=-(10**400), max_value=10**400), st.floats(),
    st.sampled_from([2**63 - 1, 2**64, 10**400, 1e308, -0.0, 315360000, 315360001,
                     1_000_000, 1_000_001, 10_000, 10_001, 16 * 1024 * 1024]),
    st.from_regex(r"\A-?[0-9]{1,30}(\.[0-9]{1,5})?(e[0-9]{1,3})?(ns|ms|s|m|h|d|w)?\Z"),
)


@fuzz(150)
@given(where=st.sampled_from(NUMERIC_KEYS), value=HOSTILE_NUMBERS, fmt=FORMATS)
def test_any_number_at_any_numeric_key_is_one_clear_line_or_loads(
    where: tuple[str, str, str], value: Any, fmt: str, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Issue 12 finding 8: the schema and the builder accept exactly the same numbers."""
    section, name, key = where
    body: dict[str, Any] = {"queues": {"q": {}}, "workers": {"default": {}},
                            "jobs": {"j": {"handler": "fuzz_handlers:anything", "queue": "q"}}}
    body[section][name][key] = value
    path = write(tmp_path, body, fmt)
    code, out = validate(path, ["--no-import"], capsys)
    if code == 0:
        try:
            load_registry(path, import_handlers=False)
        except ConfigError as exc:
            pytest.fail(f"validate accepted {key}={value!r} but the builder refused: {exc}")
    else:
        assert f".{key}: " in out, out
