"""``runa-runner dashboard``: where it listens, what it refuses to start with, and the
token and read-only mode as a client of the real server sees them."""

from __future__ import annotations

import subprocess
import sys

import httpx
import pytest

from .conftest import Project
from .dashboard_proc import fail_notes, start_dashboard

TOKEN = "tok-" + "x" * 20


def test_a_non_loopback_listen_without_a_token_refuses_to_start(
    project: Project, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("RUNA_DASHBOARD_TOKEN", raising=False)
    proc = project.run("dashboard", "--listen", "0.0.0.0:8765", ok=False, timeout=30)
    assert proc.returncode == 1 and proc.stdout == ""
    assert proc.stderr.splitlines() == [
        "runa-runner: error: --listen 0.0.0.0:8765 is not a loopback address: set "
        "RUNA_DASHBOARD_TOKEN to require a token (or listen on 127.0.0.1)"]


def test_a_bad_listen_address_is_a_usage_error(project: Project) -> None:
    proc = project.run("dashboard", "--listen", "nowhere", ok=False, timeout=30)
    assert proc.returncode == 2
    assert "expected HOST:PORT, got 'nowhere'" in proc.stderr
    assert len(proc.stderr.splitlines()) == 1


def test_without_the_extra_it_prints_the_pip_line(project: Project) -> None:
    code = ("import sys; sys.modules['uvicorn'] = None; "
            "from runa_runner.cli import main; sys.exit(main(['dashboard']))")
    proc = subprocess.run([sys.executable, "-c", code], cwd=project.root, capture_output=True,
                          text=True, timeout=60, check=False)
    assert proc.returncode == 1
    assert proc.stderr.splitlines() == [
        "runa-runner: error: the dashboard needs an optional dependency (uvicorn): "
        "pip install 'runa-runner[dashboard]'"]


def test_a_taken_port_is_one_error_line(project: Project) -> None:
    import socket

    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        proc = project.run("dashboard", "--listen", f"127.0.0.1:{port}", ok=False, timeout=30)
    assert proc.returncode == 1
    assert proc.stderr.startswith(f"runa-runner: error: cannot listen on 127.0.0.1:{port}: ")
    assert len(proc.stderr.splitlines()) == 1


def test_on_a_non_loopback_listen_every_request_needs_the_token(
    project: Project, monkeypatch: pytest.MonkeyPatch,
) -> None:
    project.push("note.record", {"text": "a"})
    monkeypatch.setenv("RUNA_DASHBOARD_TOKEN", TOKEN)
    _, url = start_dashboard(project, "--listen", "0.0.0.0:0")
    local = url.replace("0.0.0.0", "127.0.0.1")
    bare = httpx.get(f"{local}/api/queues", timeout=20)
    page = httpx.get(f"{local}/", timeout=20)
    good = httpx.get(f"{local}/api/queues", headers={"authorization": f"Bearer {TOKEN}"},
                     timeout=20)
    assert bare.status_code == 401 and page.status_code == 401
    queues = {q["name"]: q for q in good.json()}
    assert queues["main"]["pending"] == 1
    assert queues["scratch"]["pending"] is None  # in-process memory: not visible here


def test_read_only_serves_reads_and_refuses_actions(project: Project) -> None:
    [job_id] = fail_notes(project, "a")
    _, url = start_dashboard(project, "--listen", "127.0.0.1:0", "--read-only")
    job = httpx.get(f"{url}/api/jobs/{job_id}", timeout=20)
    retry = httpx.post(f"{url}/api/queues/fragile/failed/retry", json={"all": True},
                       timeout=20)
    assert job.json()["state"] == "failed" and job.json()["attempts"] == 3
    assert retry.status_code == 403
    assert project.queue("fragile")["failed"] == 1
