"""Results and cancel rules that need no server: result encoding, result_ttl resolution
and ranges, and drivers that cannot keep results."""

from __future__ import annotations

import math
from typing import Any

import pytest

import runa_runner as rr
from runa_runner.drivers.amqp import AMQPDriver
from runa_runner.limits import MAX_PAYLOAD_DEPTH
from runa_runner.results import ResultNotJSON, encode_result


async def _noop(job: rr.Job[Any]) -> None:
    return None


def test_results_are_json_by_the_payload_rules() -> None:
    assert encode_result({"a": [1, 2.5, None, "é"]}) == '{"a":[1,2.5,null,"é"]}'
    assert encode_result(None) == "null"
    for bad, why in [(math.nan, "Out of range float"), (object(), "not JSON serializable"),
                     ("\ud800", "lone surrogate")]:
        with pytest.raises(ResultNotJSON, match=f"^result is not JSON: .*{why}"):
            encode_result(bad)
    deep: Any = 1
    for _ in range(MAX_PAYLOAD_DEPTH + 1):
        deep = [deep]
    with pytest.raises(ResultNotJSON, match="nested deeper than"):
        encode_result(deep)


def test_result_ttl_resolves_push_then_job_then_queue() -> None:
    r = rr.Registry()
    r.queue("q", result_ttl=30)
    r.job("plain", _noop, queue="q")
    r.job("own", _noop, queue="q", result_ttl=5)
    r.freeze()
    pusher = r.pusher
    from runa_runner.pushing import PushOptions

    assert pusher.template("plain", PushOptions()).result_ttl == 30
    assert pusher.template("own", PushOptions()).result_ttl == 5
    assert pusher.template("own", PushOptions(result_ttl=0)).result_ttl == 0
    item = pusher.template("plain", PushOptions()).item({}, "{}")
    assert item.envelope.result_ttl == 30 and '"result_ttl":30.0' in (item.wire or "")
    none = pusher.template("own", PushOptions(result_ttl=0)).item({}, "{}")
    assert "result_ttl" not in (none.wire or "")  # the wire of a job without results


def test_result_ttl_is_a_duration_in_range() -> None:
    with pytest.raises(rr.ConfigError, match="queue 'q': result_ttl must be at least 0"):
        rr.Registry().queue("q", result_ttl=-1)
    with pytest.raises(rr.ConfigError, match="job 'j': result_ttl must be"):
        rr.Registry().job("j", _noop, result_ttl=math.inf)


def test_a_driver_that_cannot_keep_results_is_refused() -> None:
    r = rr.Registry().driver("rabbit", AMQPDriver("amqp://guest:guest@127.0.0.1:5672/"))
    r.queue("q", driver="rabbit", result_ttl=60)
    r.job("j", _noop, queue="q")
    with pytest.raises(rr.ConfigError, match="queue 'q': result_ttl needs a driver that keeps "
                                             r"results; driver 'rabbit' \(type amqp\) cannot"):
        r.freeze()


async def test_a_push_with_result_ttl_to_such_a_driver_is_refused() -> None:
    r = rr.Registry().driver("rabbit", AMQPDriver("amqp://guest:guest@127.0.0.1:5672/"))
    r.queue("q", driver="rabbit")
    r.job("j", _noop, queue="q")
    r.freeze()
    with pytest.raises(rr.Unsupported, match="driver 'amqp' does not support results"):
        await r.push("j", {}, result_ttl=60)
