"""The shipped ``jobs.yaml`` and ``examples/`` on a fresh folder: the README's first commands."""

from __future__ import annotations

import shutil
from pathlib import Path

from .conftest import Project

REPO = Path(__file__).resolve().parents[2]


def test_shipped_manifest_push_then_work(tmp_path: Path) -> None:
    shutil.copy(REPO / "jobs.yaml", tmp_path / "jobs.yaml")
    shutil.copytree(REPO / "examples", tmp_path / "examples")
    project = Project(tmp_path, manifest=None)

    assert project.run("validate").returncode == 0
    job_id = project.run("push", "mail.send", "--json", '{"to": "hello@runa.dev"}').stdout
    assert job_id.strip()
    assert project.queue("critical")["pending"] == 1

    done = project.run("work", "critical", "--burst")

    assert "send email to hello@runa.dev (attempt 1)" in done.stdout
    assert project.worker_stats("critical")["succeeded"] == 1
    assert (tmp_path / ".runa" / "queue.db").exists()  # relative to the manifest's folder
