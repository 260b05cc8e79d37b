"""Statements of DESIGN.md checked black-box on the installed CLI (the contract audit)."""

from __future__ import annotations

from .conftest import Project


def test_failed_delete_touches_only_failed_jobs(project: Project) -> None:
    # `failed delete` is failed-job recovery: a pending or delayed job given by mistake stays.
    pending = project.push("note.explode", {"text": "p"})
    delayed = project.push("note.explode", {"text": "d"}, "--delay", "1h")
    for job_id in (pending, delayed):
        proc = project.run("failed", "delete", "fragile", job_id)
        assert proc.stdout == "deleted 0 failed jobs of queue 'fragile'\n"
        assert proc.stderr.count("\n") == 1 and f"no job '{job_id}'" in proc.stderr
    assert project.json("job", pending)["state"] == "pending"
    assert project.json("job", delayed)["state"] == "delayed"


def test_an_invalid_manifest_gives_one_error_line_per_problem(project: Project) -> None:
    (project.root / "bad.yaml").write_text(
        "queues:\n  q: {driver: nope, workers: [w]}\nworkers:\n  w: {concurency: 2}\n")
    proc = project.run("list", "-c", "bad.yaml", ok=False)
    assert (proc.returncode, proc.stdout) == (1, "")
    lines = proc.stderr.splitlines()
    assert len(lines) == 2 and all(line.startswith("runa-runner: error: bad.yaml:")
                                   for line in lines)
    assert "unknown driver 'nope'" in proc.stderr and "did you mean 'concurrency'" in proc.stderr
