"""Driver types resolve lazily: built-ins, entry points, and a clear line for a missing extra."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

import runa_runner as rr
from runa_runner.drivers import driver_type, driver_types
from runa_runner.errors import MissingExtra
from runa_runner.manifest import check_manifest, load_registry

PLUGIN = '''
from runa_runner.drivers.base import Capability
from runa_runner.drivers.memory import MemoryDriver


class TapeDriver(MemoryDriver):
    """A third-party driver: the memory driver under another type name, with one key."""

    type_name = "tape"

    def __init__(self, reel: str) -> None:
        super().__init__()
        self.reel = reel

    @classmethod
    def from_config(cls, config, base_dir):
        return cls(str(config.get("reel", "default")))


class StiffTapeDriver(TapeDriver):
    """Leases it cannot renew."""

    type_name = "stiff"
    CAPABILITIES = TapeDriver.CAPABILITIES - {Capability.RENEW}
    capabilities = CAPABILITIES
'''

HANDLERS = '''
RUNS = []


async def record(job):
    RUNS.append(job.payload)
'''


@pytest.fixture
def tape_plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An installed distribution registering type 'tape' under runa_runner.drivers."""
    (tmp_path / "tape_plugin.py").write_text(PLUGIN)
    info = tmp_path / "tape_plugin-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: tape-plugin\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(
        "[runa_runner.drivers]\ntape = tape_plugin:TapeDriver\n"
        "stiff = tape_plugin:StiffTapeDriver\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    return tmp_path


async def test_an_entry_point_driver_type_validates_compiles_and_runs(tape_plugin: Path) -> None:
    (tape_plugin / "tape_handlers.py").write_text(HANDLERS)
    manifest = tape_plugin / "jobs.yaml"
    manifest.write_text(
        "drivers:\n  t: {type: tape, reel: blue}\n"
        "queues:\n  q: {driver: t, workers: [w]}\n"
        "workers:\n  w: {}\n"
        "jobs:\n  rec: {handler: 'tape_handlers:record', queue: q}\n"
    )
    assert "tape" in driver_types()

    problems, _ = check_manifest(str(manifest))
    assert [p for p in problems if p.severity == "error"] == []

    registry = load_registry(str(manifest))
    driver = registry.drivers["t"]
    assert (type(driver).__name__, driver.reel) == ("TapeDriver", "blue")  # type: ignore[attr-defined]
    await registry.push("rec", {"n": 1})
    await rr.Unit(registry, "w").run(burst=True)
    assert sys.modules["tape_handlers"].RUNS == [{"n": 1}]


def test_a_timeout_beyond_a_lease_that_cannot_be_renewed_is_a_warning(
        tape_plugin: Path) -> None:
    manifest = tape_plugin / "jobs.yaml"
    manifest.write_text(
        "drivers:\n  t: {type: stiff}\n"
        "queues:\n  q: {driver: t, workers: [w], timeout: 2m}\n"
        "workers:\n  w: {lease: 30s, stop_timeout: 5m}\n"
        "jobs:\n  rec: {handler: 'tape_handlers:record', queue: q}\n"
    )
    problems, _ = check_manifest(str(manifest))
    assert [(p.severity, p.message) for p in problems] == [(
        "warning", "timeout 2m exceeds the lease 30s of worker 'w' and driver 't' cannot "
        "renew leases: another worker may run the job again meanwhile (raise the lease)")]


@pytest.mark.parametrize(("kind", "module"), [("redis", "redis"), ("postgres", "psycopg")])
def test_a_missing_extra_names_the_pip_install_line(
    monkeypatch: pytest.MonkeyPatch, kind: str, module: str,
) -> None:
    loaded = (module, f"{module}.", f"runa_runner.drivers.{kind}")
    for name in [m for m in sys.modules if m.startswith(loaded)]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, module, None)  # "import <module>" now fails

    with pytest.raises(MissingExtra) as caught:
        driver_type(kind)

    assert f"pip install 'runa-runner[{kind}]'" in str(caught.value)
    assert str(caught.value).startswith(f"driver type '{kind}' needs an optional dependency")
