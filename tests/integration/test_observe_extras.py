"""The optional libraries of observability are optional: without opentelemetry a worker
runs untraced; without prometheus-client or rich the command that needs one says the
exact pip line. Each case runs in a fresh interpreter where the library cannot import."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

BLOCK = "import sys\nfor name in {names!r}: sys.modules[name] = None\n"


def python(code: str, cwd: Path, *blocked: str) -> subprocess.CompletedProcess[str]:
    script = BLOCK.format(names=list(blocked)) + textwrap.dedent(code)
    return subprocess.run([sys.executable, "-c", script], cwd=cwd, capture_output=True,
                          text=True, timeout=60, check=False)


def test_without_opentelemetry_jobs_run_untraced(tmp_path: Path) -> None:
    done = python("""
        import asyncio
        import runa_runner as rr

        seen = []

        async def handler(job):
            seen.append(job.meta)

        async def main():
            reg = rr.Registry().queue("q", workers=["w"]).worker("w").job("j", handler, queue="q")
            reg.freeze()
            await reg.push("j", {})
            await rr.Unit(reg, "w").run(burst=True)
            print(seen, "opentelemetry" in str(sys.modules.get("opentelemetry")))

        asyncio.run(main())
    """, tmp_path, "opentelemetry", "opentelemetry.trace")
    assert done.returncode == 0, done.stderr
    assert done.stdout == "[{}] False\n"


@pytest.mark.parametrize(("argv", "extra"), [
    (["work", "--all", "--metrics", "127.0.0.1:0"], "metrics"),
    (["metrics"], "metrics"),
])
def test_a_missing_extra_is_one_line_with_the_pip_command(tmp_path: Path, argv: list[str],
                                                          extra: str) -> None:
    tmp_path.joinpath("jobs.yaml").write_text(
        "drivers: {d: {type: sqlite, path: q.db}}\ndefault_driver: d\n"
        "queues: {q: {workers: [w]}}\nworkers: {w: {}}\n", encoding="utf-8")
    done = python(f"""
        from runa_runner.cli import main
        raise SystemExit(main({argv!r}))
    """, tmp_path, "prometheus_client")
    assert done.returncode == 1
    assert done.stderr.endswith(f"pip install 'runa-runner[{extra}]'\n")
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("runa-runner: error: ")
