"""The bad-manifest corpus: each file gives exactly its problem lines, never a traceback.

``bad_manifests/expected.txt`` holds the exact ``validate`` output of every file
(``FILE:LINE:COL: PATH: message``), reviewed by hand; a file's lines start with its path.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import pytest

from runa_runner.cli import main
from runa_runner.manifest import check_manifest

HERE = Path(__file__).parent
CORPUS = HERE / "bad_manifests"


def _expected() -> dict[str, list[str]]:
    table: dict[str, list[str]] = defaultdict(list)
    for line in (CORPUS / "expected.txt").read_text().splitlines():
        name = line.split(":", 1)[0].removeprefix("bad_manifests/")
        table[name].append(line)
    return dict(table)


EXPECTED = _expected()


@pytest.fixture(autouse=True)
def _in_tests_folder(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(HERE)
    monkeypatch.delenv("RUNA_TEST_SURELY_UNSET", raising=False)


def test_every_bad_manifest_has_expected_lines() -> None:
    manifests = {p.name for p in CORPUS.iterdir() if p.suffix in (".yaml", ".toml", ".json")}
    assert manifests == set(EXPECTED)
    assert len(manifests) >= 25


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_exact_problem_lines(name: str) -> None:
    problems, _ = check_manifest(f"bad_manifests/{name}")
    assert [p.format() for p in problems] == EXPECTED[name]
    assert any(p.is_error for p in problems)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_validate_prints_them_on_stdout_and_exits_1(
    name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["validate", "-c", f"bad_manifests/{name}"]) == 1
    out, err = capsys.readouterr()
    assert out.splitlines() == EXPECTED[name]
    assert err == ""


@pytest.mark.parametrize("name", ["unknown_driver.yaml", "wrong_type.toml", "top_list.yaml"])
def test_json_format_carries_the_same_problems(
    name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["validate", "--format", "json", "-c", f"bad_manifests/{name}"]) == 1
    found = json.loads(capsys.readouterr().out)
    lines = []
    for p in found:
        assert set(p) == {"file", "line", "column", "path", "message", "severity"}
        path = f"{p['path']}: " if p["path"] else ""
        lines.append(f"{p['file']}:{p['line']}:{p['column']}: {path}{p['message']}")
    assert lines == EXPECTED[name]


def test_many_problems_are_reported_in_one_run() -> None:
    problems, _ = check_manifest("bad_manifests/many_problems.yaml")
    assert len([p for p in problems if p.is_error]) == 4
