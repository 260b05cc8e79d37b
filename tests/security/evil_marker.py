"""Must never be imported by a worker: importing it leaves a file behind as proof."""

from pathlib import Path

Path(__file__).with_name("IMPORTED").write_text("evil_marker was imported\n", encoding="utf-8")


def run(job: object) -> None:
    raise SystemExit("evil_marker.run ran")
