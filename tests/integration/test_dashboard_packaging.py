"""The dashboard's templates and assets ship in the wheel and load from the package."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from importlib import resources
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
TEMPLATES = {"base.html", "overview.html", "queue.html", "job.html", "schedules.html",
             "schedule_table.html", "login.html", "error.html"}
STATIC = {"dashboard.css", "refresh.js"}


def test_the_package_finds_its_templates_and_assets() -> None:
    root = resources.files("runa_runner.dashboard")
    assert {p.name for p in root.joinpath("templates").iterdir()} >= TEMPLATES
    assert {p.name for p in root.joinpath("static").iterdir()} >= STATIC
    css = root.joinpath("static", "dashboard.css").read_text("utf-8")
    assert "http" not in css and "@import" not in css  # nothing fetched from elsewhere


def test_the_wheel_ships_them(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(tmp_path),
         str(REPO)], check=True, capture_output=True, timeout=300)
    (wheel,) = tmp_path.glob("runa_runner-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for name in TEMPLATES:
        assert f"runa_runner/dashboard/templates/{name}" in names
    for name in STATIC:
        assert f"runa_runner/dashboard/static/{name}" in names
    metadata = next(n for n in names if n.endswith(".dist-info/METADATA"))
    text = zipfile.ZipFile(wheel).read(metadata).decode()
    assert "Provides-Extra: dashboard" in text
    assert "starlette" in text and "uvicorn" in text
