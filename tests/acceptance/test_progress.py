"""``push --jsonl`` draws a progress bar only when stderr is a terminal."""

from __future__ import annotations

import json
import os
import pty
import subprocess

from .conftest import EXE, Project, environment


def test_progress_bar_on_a_terminal(project: Project) -> None:
    lines = "".join(json.dumps({"text": f"p{i}"}) + "\n" for i in range(700))
    primary, secondary = pty.openpty()
    try:
        proc = subprocess.run([EXE, "push", "note.record", "--jsonl", "-"], input=lines.encode(),
                              stdout=subprocess.PIPE, stderr=secondary, cwd=project.root,
                              env=environment(), timeout=60, check=False)
        os.close(secondary)
        secondary = -1
        drawn = b""
        while True:
            try:
                chunk = os.read(primary, 4096)
            except OSError:  # EIO: the terminal's other end is closed and drained
                break
            if not chunk:
                break
            drawn += chunk
    finally:
        if secondary >= 0:
            os.close(secondary)
        os.close(primary)
    assert proc.returncode == 0
    assert len(proc.stdout.split()) == 700  # ids still go to stdout, bar-free
    text = drawn.decode()
    assert "pushed 500/700" in text and "pushed 700/700" in text
