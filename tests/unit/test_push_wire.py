"""A push builds each job's wire JSON from its template; it must equal Envelope.to_json()."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

import runa_runner as rr
from runa_runner.drivers.base import PushItem
from runa_runner.drivers.memory import MemoryDriver
from runa_runner.pushing import PushOptions, Template, encode_payload

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=8,
)


class Mail(BaseModel):
    to: str
    n: int = 0


def registry() -> rr.Registry:
    r = rr.Registry()
    r.queue("q", meta={"team": "data", "odd": "\x00id"})
    r.job("plain", lambda job: None, queue="q")
    r.job("typed", lambda job: None, queue="q")
    r.freeze()
    return r


class Capture(MemoryDriver):
    """A memory driver that keeps every PushItem it is given."""

    def __init__(self) -> None:
        super().__init__()
        self.items: list[PushItem] = []

    async def push(self, items: Any) -> list[str]:
        self.items.extend(items)
        return await super().push(items)


@settings(max_examples=200, deadline=None)
@given(payload=json_values, unique=st.none() | st.text(),
       meta=st.none() | st.dictionaries(st.text(), json_values, max_size=3),
       retry=st.none() | st.integers(0, 5), timeout=st.none() | st.floats(0, 100))
def test_wire_text_equals_the_envelope_json(payload: Any, unique: str | None,
                                            meta: dict[str, Any] | None, retry: int | None,
                                            timeout: float | None) -> None:
    r = registry()
    opts = PushOptions(unique=unique, meta=meta, retry=retry, timeout=timeout)
    template = Template.resolve(r.job_spec("plain"), r.queue_spec("q"), opts)
    item = template.item(*encode_payload(r.job_spec("plain"), payload))
    assert item.wire == item.envelope.to_json()


def test_wire_text_of_a_payload_that_looks_like_the_split_marks() -> None:
    r = registry()
    template = Template.resolve(r.job_spec("plain"), r.queue_spec("q"),
                                PushOptions(unique="\x00payload", meta={"k": "\x00id"}))
    for payload in ["\x00payload", {"\x00id": "\x00payload"}, ["\x00id"]]:
        item = template.item(*encode_payload(r.job_spec("plain"), payload))
        assert item.wire == item.envelope.to_json()


async def test_pushes_with_different_options_keep_their_own_options() -> None:
    """Templates are reused between pushes; options of one push never leak into the next."""
    capture = Capture()
    r = rr.Registry()
    r.driver("cap", capture)
    r.queue("q", driver="cap", retry=1)
    r.job("plain", lambda job: None, queue="q")
    r.freeze()
    await r.push("plain", {"a": 1}, retry=4, delay=30)
    await r.push("plain", {"a": 2})
    await r.push("plain", {"a": 3}, retry=4, delay=30)
    await r.push("plain", {"a": 4}, meta={"x": "y"})
    await r.push("plain", {"a": 5})
    got = [(i.envelope.payload["a"], i.envelope.max_retries, i.delay, i.envelope.meta)
           for i in capture.items]
    assert got == [(1, 4, 30.0, {}), (2, 1, 0.0, {}), (3, 4, 30.0, {}),
                   (4, 1, 0.0, {"x": "y"}), (5, 1, 0.0, {})]
    assert all(i.wire == i.envelope.to_json() for i in capture.items)
    await r.close()


async def test_typed_payload_is_validated_and_encoded_once() -> None:
    r = rr.Registry()
    r.queue("q")

    async def send(job: rr.Job[Mail]) -> None:
        pass

    r.job("mail", send, queue="q")
    r.freeze()
    payload, text = encode_payload(r.job_spec("mail"), {"to": "a@b.c"})
    assert payload == {"to": "a@b.c", "n": 0}
    assert text == '{"to":"a@b.c","n":0}'
    with pytest.raises(rr.PayloadInvalid):
        encode_payload(r.job_spec("mail"), {"n": "x"})
