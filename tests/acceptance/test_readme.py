"""The README's two quick-start commands are the ones that work, and CI runs the second."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
INSTALL = "pip install -e '.[dev]'"


def quickstart_commands() -> list[str]:
    text = (REPO / "README.md").read_text()
    section = text.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```sh\n(.*?)\n```", section, flags=re.S)


def test_readme_has_exactly_two_quickstart_commands() -> None:
    commands = quickstart_commands()
    assert len(commands) == 2
    assert commands[0].startswith(INSTALL + " && ")
    assert commands[1] == "python -m pytest"
    assert "\npython -m pytest\n" in (REPO / ".ci" / "run").read_text()


def test_readme_first_command_runs_the_example_jobs_end_to_end(tmp_path: Path) -> None:
    # The package is already installed (editable) for the test run; the rest of the line
    # runs as written, in a fresh folder holding what a clone holds.
    rest = quickstart_commands()[0][len(INSTALL + " && "):]
    shutil.copy(REPO / "jobs.yaml", tmp_path / "jobs.yaml")
    shutil.copytree(REPO / "examples", tmp_path / "examples")

    done = subprocess.run(["bash", "-c", rest], cwd=tmp_path, capture_output=True, text=True,
                          timeout=120)

    assert done.returncode == 0, done.stderr
    assert "send email to hello@runa.dev (attempt 1)" in done.stdout
    assert "report daily: 1000 rows" in done.stdout
    lines = done.stdout.splitlines()
    assert lines[0] == "jobs.yaml: ok (1 driver, 2 queues, 2 workers, 2 jobs, 1 schedule)"
    queue_rows = [line.split() for line in lines if line.startswith(("critical ", "bulk "))]
    # After the burst both queues are empty and both workers report one success each.
    assert ["critical", "local", "critical", "0", "0", "0", "0"] in queue_rows
    assert ["critical", "critical", "8", "0", "1", "1", "0", "0"] in queue_rows
    assert ["bulk", "bulk", "50", "0", "1", "1", "0", "0"] in queue_rows
