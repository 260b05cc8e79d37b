"""The memory driver refuses numbers it cannot order or store (issue 12, finding 5): a NaN
delay would break its heaps, an int of 400 digits overflow the float clock."""

from __future__ import annotations

import pytest

from runa_runner.drivers.base import PushItem
from runa_runner.drivers.memory import MemoryDriver
from runa_runner.errors import DriverError
from runa_runner.job import Envelope, new_id


def env(**fields: object) -> Envelope:
    return Envelope(id=new_id(), queue="q", job="j", payload=None).evolve(**fields)


@pytest.mark.parametrize(("item", "named"), [
    (PushItem(env(max_retries=10**400)), "max_retries"),
    (PushItem(env(max_retries=2**63 - 1)), "max_retries"),
    (PushItem(env(attempt=-1)), "attempt"),
    (PushItem(env(retry_delay=float("nan"))), "retry_delay"),
    (PushItem(env(timeout=1e400)), "timeout"),
    (PushItem(env(), delay=float("nan")), "delay"),
    (PushItem(env(), delay=10**400), "delay"),
    (PushItem(env(unique="k"), unique_for=float("inf")), "unique_for"),
])
async def test_absurd_numbers_are_refused_and_nothing_is_stored(item: PushItem,
                                                                named: str) -> None:
    drv = MemoryDriver()
    good = PushItem(env())
    with pytest.raises(DriverError, match=f"memory: cannot store job .*: {named}"):
        await drv.push([good, item])
    assert (await drv.counts("q")).pending == 0  # checked before the first is stored
    assert await drv.push([good]) == [good.envelope.id]
