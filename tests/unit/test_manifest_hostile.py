"""Hostile or careless manifests (issue 12, findings 9 and 18): one line each, fast, no traceback.

The corpus in bad_manifests/ pins the exact lines; these tests add what a corpus file
cannot say: time bounds, secrets kept out of messages, warnings, and the defaults.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from runa_runner.cli import main
from runa_runner.manifest import check_manifest, load_registry

HERE = Path(__file__).parent


def write(tmp_path: Path, text: str, name: str = "jobs.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def billion_laughs(levels: int) -> str:
    lines = ["x-bomb:", '  a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for i in range(1, levels + 1):
        lines.append(f"  a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]")
    return "\n".join(lines) + "\n"


def test_alias_expansion_is_refused_fast(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                         ) -> None:
    path = write(tmp_path, billion_laughs(9))
    started = time.monotonic()
    assert main(["validate", "-c", str(path)]) == 1
    elapsed = time.monotonic() - started
    out, err = capsys.readouterr()
    assert out == (f"{path}:2:12: the manifest expands to more than 100,000 values "
                   "(YAML aliases repeating aliases); refused\n")
    assert err == ""
    assert elapsed < 10  # unbounded, this took over 60 s and 3.9 GB


def test_modest_aliases_still_work(tmp_path: Path) -> None:
    path = write(tmp_path, billion_laughs(3) + "queues:\n  default: {retry: 2}\n")
    problems, doc = check_manifest(path, import_handlers=False)
    assert problems == [] and doc is not None
    assert len(doc.body["x-bomb"]["a3"]) == 9


def test_a_short_lease_is_a_warning_naming_the_risk(tmp_path: Path) -> None:
    path = write(tmp_path, "workers:\n  default: {lease: 1ms}\n")
    problems, _ = check_manifest(path, import_handlers=False)
    assert [p.format() for p in problems] == [
        f"{path}:2:20: warning: workers.default.lease: lease 1ms is under 1s: it may lapse "
        "before the worker renews it, and another worker then runs the same job again "
        "(raise the lease)"
    ]


def test_a_zero_poll_interval_is_an_error(tmp_path: Path) -> None:
    path = write(tmp_path, "workers:\n  default: {poll_interval: 0}\n")
    problems, _ = check_manifest(path, import_handlers=False)
    assert [p.format() for p in problems] == [
        f"{path}:2:28: workers.default.poll_interval: expected a duration > 0, got 0"
    ]


def test_nested_env_defaults_expand(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RUNA_TEST_A", raising=False)
    monkeypatch.setenv("RUNA_TEST_B", "nested.db")
    path = write(tmp_path, "drivers:\n  local: {type: sqlite, path: "
                 '"${RUNA_TEST_A:-${RUNA_TEST_B}}"}\n')
    registry = load_registry(path, import_handlers=False)
    assert registry.drivers["local"].path == tmp_path / "nested.db"  # type: ignore[attr-defined]


def test_url_problems_never_show_the_password(capsys: pytest.CaptureFixture[str],
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(HERE)
    monkeypatch.delenv("RUNA_TEST_SURELY_UNSET", raising=False)
    assert main(["validate", "-c", "bad_manifests/bad_driver_urls.yaml"]) == 1
    out, err = capsys.readouterr()
    assert len(out.splitlines()) == 7 and err == ""
    for secret in ("pa#ss", "pa/ss", "s?cret", "63790000"):
        assert secret not in out


@pytest.mark.parametrize("url", [
    "redis://127.0.0.1:6379/0", "rediss://user:p%23ss@cache.internal:6380/3",
    "redis://[::1]:6379", "unix:///var/run/redis.sock?db=2", "redis://:secret@:6379/0",
])
def test_good_redis_urls_pass(tmp_path: Path, url: str) -> None:
    path = write(tmp_path, f'drivers:\n  r: {{type: redis, url: "{url}"}}\n')
    problems, _ = check_manifest(path, import_handlers=False)
    assert problems == []


def test_no_drivers_gives_sqlite_local_beside_the_manifest(tmp_path: Path) -> None:
    folder = tmp_path / "app"
    folder.mkdir()
    path = write(folder, "queues:\n  q: {workers: [w]}\nworkers:\n  w: {}\n")
    registry = load_registry(path, import_handlers=False)
    assert registry.queue_spec("q").driver == "local"
    local = registry.drivers["local"]
    assert local.describe().target == str(folder / ".runa" / "queue.db")


def test_the_standalone_registry_keeps_memory() -> None:
    import runa_runner as rr

    registry = rr.Registry().queue("q").freeze()
    assert registry.queue_spec("q").driver == "memory"
    assert set(registry.drivers) == {"memory"}
