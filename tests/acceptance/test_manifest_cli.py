"""``runa-runner validate`` and ``schema`` as a user runs them (the README's commands)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from runa_runner.cli import main

REPO = Path(__file__).resolve().parents[2]


def runa(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "RUNA_CONFIG"}
    # The installed console script, as the README runs it (python -m where it is missing).
    command = shutil.which("runa-runner")
    argv = [command] if command else [sys.executable, "-m", "runa_runner"]
    return subprocess.run([*argv, *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=60)


def test_shipped_jobs_yaml_validates() -> None:
    result = runa("validate")
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout == "jobs.yaml: ok (1 driver, 2 queues, 2 workers, 2 jobs, 1 schedule)\n"


def test_seed_toml_validates_unchanged() -> None:
    result = runa("validate", "-c", "examples/seed.toml")
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout == "examples/seed.toml: ok (0 drivers, 1 queue, 1 worker, 0 jobs)\n"


def test_config_after_or_before_the_subcommand(capsys: pytest.CaptureFixture[str]) -> None:
    seed = str(REPO / "examples" / "seed.toml")
    assert main(["-c", seed, "validate", "--no-import"]) == 0
    assert main(["validate", "--config", seed, "--format", "json"]) == 0
    out = capsys.readouterr().out
    assert out.endswith("[]\n")


def test_missing_manifest_is_one_line_on_stderr(tmp_path: Path) -> None:
    result = runa("validate", cwd=tmp_path)
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr == "runa-runner: error: manifest 'jobs.yaml' not found\n"


def test_usage_error_exits_2() -> None:
    result = runa("validate", "--format", "xml")
    assert result.returncode == 2
    assert "invalid choice: 'xml'" in result.stderr


def test_invalid_manifest_exits_1_without_traceback(tmp_path: Path) -> None:
    (tmp_path / "jobs.yaml").write_text("queues: [\n")
    result = runa("validate", cwd=tmp_path)
    assert result.returncode == 1
    assert "Traceback" not in result.stdout + result.stderr
    assert result.stdout.startswith("jobs.yaml:2:1: invalid YAML: ")


def test_a_payload_type_pydantic_refuses_is_one_problem_line(tmp_path: Path) -> None:
    # typing.TypedDict on Python 3.11: pydantic raises a user error at adapter build time.
    (tmp_path / "td_handlers.py").write_text(
        "from typing import TypedDict\nimport runa_runner as rr\n"
        "class Mail(TypedDict):\n    to: str\n"
        "async def send(job: rr.Job[Mail]) -> None: ...\n"
        "async def ok(job: rr.Job[dict[str, int]]) -> None: ...\n")
    (tmp_path / "jobs.yaml").write_text(
        "app_dir: .\njobs:\n  mail: {handler: 'td_handlers:send'}\n"
        "  fine: {handler: 'td_handlers:ok'}\n")
    # push imports only the pushed job's handler: "fine" is not refused for "mail"'s sake
    for command in (["validate"], ["push", "mail", "--json", "{}"]):
        result = runa(*command, cwd=tmp_path)
        assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
        text = result.stdout + result.stderr
        assert text.count("\n") == 1, text
        assert "jobs.yaml:3:19: jobs.mail.handler: handler td_handlers:send: payload type" in text
        assert "cannot be validated by pydantic" in text and "typing_extensions" in text


def test_schema_command() -> None:
    result = runa("schema")
    assert result.returncode == 0
    assert json.loads(result.stdout)["title"] == "runa-runner manifest"
