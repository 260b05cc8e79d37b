"""``Unit(registry, worker, concurrency=N)``: the override ``work --concurrency`` uses."""

from __future__ import annotations

import pytest

import runa_runner as rr


async def noop(job: rr.Job[object]) -> None:
    return None


def registry() -> rr.Registry:
    r = rr.Registry()
    r.queue("q", workers=["w"]).worker("w", concurrency=1).job("j", noop, queue="q")
    return r.freeze()


def test_concurrency_overrides_the_pool_for_this_unit_only() -> None:
    r = registry()

    unit = rr.Unit(r, "w", concurrency=3)

    assert unit.spec.concurrency == 3
    assert rr.Unit(r, "w").spec.concurrency == 1
    assert r.worker_spec("w").concurrency == 1


@pytest.mark.parametrize("bad", [0, 10_001, -1, True, 2.5])
def test_concurrency_out_of_range_is_one_config_error(bad: object) -> None:
    with pytest.raises(rr.ConfigError) as err:
        rr.Unit(registry(), "w", concurrency=bad)  # type: ignore[arg-type]

    assert str(err.value).startswith("worker 'w': concurrency must be ")
