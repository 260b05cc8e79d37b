"""Generated ``schedules:`` entries through validate, and the slot rules as properties.

Every entry ends with clear located lines or a registry that compiles; for any state and
time, a pass claims slots after the watermark, up to now, oldest first, and never two.
"""

from __future__ import annotations

import contextlib
import io
from pathlib import Path
from typing import Any

import yaml
from hypothesis import given
from hypothesis import strategies as st

from runa_runner.cli import main
from runa_runner.drivers.base import SlotState
from runa_runner.manifest import load_registry
from runa_runner.schedules.plan import MAX_PER_PASS, plan
from runa_runner.schedules.spec import ScheduleSpec

from .conftest import assert_clear, fuzz

FIELD = st.one_of(st.sampled_from(["*", "*/5", "0", "1-3", "L", "MON", "1#2", "5W", "59",
                                   "61", "", "a", "*/0"]),
                  st.integers(-2, 70).map(str))
CRON = st.lists(FIELD, min_size=3, max_size=7).map(" ".join)
ANY = st.one_of(st.none(), st.booleans(), st.integers(-5, 10**6), st.floats(allow_nan=True),
                st.text(max_size=12), st.lists(st.integers(), max_size=2))
ENTRY = st.fixed_dictionaries({}, optional={
    "job": st.sampled_from(["j", "k", "nope", 3]),
    "cron": st.one_of(CRON, ANY),
    "every": st.one_of(st.sampled_from(["1s", "15m", "0s", "-1s", "1h30m", "x"]), ANY),
    "timezone": st.one_of(st.sampled_from(["UTC", "Europe/Berlin", "Mars/Base", "../etc",
                                           ""]), ANY),
    "payload": ANY,
    "queue": st.sampled_from(["q", "nope", 1]),
    "catch_up": st.sampled_from(["latest", "all", "none", "some", 1]),
    "grace": st.one_of(st.sampled_from(["1m", "0", "soon"]), ANY),
    "overlap": st.sampled_from(["allow", "skip", "maybe"]),
    "meta": st.one_of(st.dictionaries(st.text(max_size=4), st.integers(), max_size=2), ANY),
    "extra": ANY,
})


@fuzz(150)
@given(entries=st.dictionaries(st.text(min_size=1, max_size=8), ENTRY, max_size=3))
def test_generated_schedules_validate_clearly_or_compile(
    tmp_path_factory: Any, entries: dict[str, Any]
) -> None:
    folder: Path = tmp_path_factory.mktemp("m")
    body = {"queues": {"q": {"workers": ["w"]}}, "workers": {"w": {}},
            "jobs": {"j": {"handler": "json:dumps", "queue": "q"},
                     "k": {"handler": "json:loads", "queue": "q"}},
            "schedules": entries}
    path = folder / "jobs.yaml"
    path.write_text(yaml.safe_dump(body), encoding="utf-8")
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        code = main(["validate", "-c", str(path), "--no-import"])
    assert code in (0, 1)
    assert_clear(out.getvalue())
    if code == 0:
        registry = load_registry(path, import_handlers=False)
        for spec in registry.schedules.values():
            slot = spec.calendar.next_after(1_800_000_000.0)
            assert slot is None or slot > 1_800_000_000.0


@fuzz(300)
@given(
    every=st.sampled_from([0.5, 1.0, 7.0, 60.0, 3600.0]),
    grace=st.sampled_from([0.0, 1.0, 60.0, 600.0]),
    catch_up=st.sampled_from(["latest", "all", "none"]),
    watermark=st.floats(0, 1e6),
    ahead=st.floats(0, 1e5),
)
def test_a_pass_claims_ordered_slots_after_the_watermark_up_to_now(
    every: float, grace: float, catch_up: str, watermark: float, ahead: float
) -> None:
    spec = ScheduleSpec.build("s", "j", "q", every=every, grace=grace, catch_up=catch_up)
    now = watermark + ahead
    steps = plan(spec, SlotState(watermark), now)
    slots = [s.slot for s in steps]
    assert slots == sorted(set(slots))
    assert all(watermark < s <= now for s in slots)
    assert len(steps) <= MAX_PER_PASS
    assert all(s.push for s in steps) or (catch_up == "none" and len(steps) == 1)
    due = spec.calendar.next_after(watermark)
    if due is not None and due <= now:
        assert steps, "a due slot is never left without a claim"
    if catch_up != "all" and steps:
        newest = spec.calendar.latest(now)
        assert slots[-1] == newest or len(steps) == MAX_PER_PASS
