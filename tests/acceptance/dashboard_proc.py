"""Starting the installed ``runa-runner dashboard`` in a project folder (port 0: the
command prints the port it got)."""

from __future__ import annotations

from .conftest import EXE, Project, Worker


def start_dashboard(project: Project, *args: str) -> tuple[Worker, str]:
    """The running process (stopped at teardown) and its base URL, without a slash."""
    proc = Worker([EXE, "dashboard", *args], project.root)
    project.workers.append(proc)
    line = proc.wait_line("dashboard on http://")
    return proc, line.split(" on ", 1)[1].split()[0].rstrip("/")


def fail_notes(project: Project, *texts: str) -> list[str]:
    """Push ``note.explode`` jobs and run them to failure (the queue retries twice)."""
    (project.root / "broken").touch()
    ids = [project.push("note.explode", {"text": t}) for t in texts]
    project.run("work", "main", "--burst")
    return ids
