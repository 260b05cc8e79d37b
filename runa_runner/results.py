"""A handler's return value as a kept result: encoded by the worker, decoded on read.

The same JSON rules as a payload (finite numbers, UTF-8 text, at most
:data:`~runa_runner.limits.MAX_PAYLOAD_DEPTH` deep), so every result a worker keeps
reads back. A value that breaks them fails the run (a bug in the handler, retried like
any failure) with an error starting "result is not JSON".
"""

from __future__ import annotations

import json
from typing import Any

from .limits import MAX_PAYLOAD_DEPTH, MAX_RECORD_BYTES
from .pushing import unstorable
from .records import CorruptRecord, loads

#: Result JSON as drivers store it.
_encode = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode

#: What ``job ID`` and ``registry.result`` say about an id no driver holds.
NOT_KEPT = "unknown job (no such job, or it succeeded and was not kept)"


class ResultNotJSON(ValueError):
    """The handler returned what cannot be kept as JSON."""


def encode_result(value: Any) -> str:
    """``value`` as JSON text; ResultNotJSON ("result is not JSON: ...") otherwise."""
    try:
        text = _encode(value)
    except RecursionError:
        raise ResultNotJSON(f"result is not JSON: nested deeper than {MAX_PAYLOAD_DEPTH} "
                            "levels") from None
    except (TypeError, ValueError) as exc:
        raise ResultNotJSON(f"result is not JSON: {exc}") from None
    problem = unstorable(text)
    if problem is None and len(text) > MAX_RECORD_BYTES // 4 and \
            len(text.encode()) > MAX_RECORD_BYTES // 2:
        problem = f"is over {MAX_RECORD_BYTES // 2:,} bytes"
    if problem is not None:
        raise ResultNotJSON(f"result is not JSON: it {problem}")
    return text


def decode_result(raw: Any) -> Any:
    """A stored result, read as untrusted JSON (CorruptRecord naming the defect)."""
    if raw is None:
        return None
    if not isinstance(raw, str | bytes | bytearray | memoryview):
        raise CorruptRecord(f"stored result is {type(raw).__name__}, not JSON text")
    return loads(raw, "result")
