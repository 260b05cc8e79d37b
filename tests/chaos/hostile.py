"""Stored records no worker can read, of every kind the decoder refuses, as a producer in
another language (or a bug) could write them: shared by the integration, fuzz and chaos
tiers. Each kind has the raw envelope bytes and the text its failure reason must contain.

``id``/``queue`` are where the record is stored; ``columns`` are SQLite-only overrides of
the row's other columns (``attempt``, ``available_at``, ``id`` as raw bytes).
"""

from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Hostile:
    kind: str
    body: bytes
    defect: str
    columns: dict[str, Any] = field(default_factory=dict)


def good(job_id: str, queue: str, job: str, payload: Any = None, /,
         **fields: Any) -> dict[str, Any]:
    """A well-formed envelope (DESIGN.md §8) as a dict, ``fields`` overriding."""
    now = time.time()
    data = {"id": job_id, "queue": queue, "job": job, "payload": payload, "attempt": 0,
            "max_retries": 0, "retry_delay": 0, "timeout": None, "meta": {}, "unique": None,
            "enqueued_at": now, "available_at": now}
    data.update(fields)
    return data


def _json(data: dict[str, Any]) -> bytes:
    return json.dumps(data).encode()


def _swap(data: dict[str, Any], key: str, literal: str) -> bytes:
    """The envelope with ``key``'s value replaced by a raw JSON literal (1e400, NaN, ...)."""
    marker = "\u0000swap\u0000"
    data[key] = marker
    return json.dumps(data).replace(json.dumps(marker), literal).encode()


def body_kinds(job_id: str, queue: str, job: str, *, columns: bool = False) -> list[Hostile]:
    """Bodies every driver stores as they are: the envelope itself is unreadable.

    ``columns``: the driver keeps ``attempt`` in a column that overrides the JSON's
    (SQLite), so a bad ``attempt`` in the JSON alone is not a defect there.
    """
    def g(**fields: Any) -> dict[str, Any]:
        return good(job_id, queue, job, {"n": 1}, **fields)

    deep = b'{"a":' * 100_000 + b"1" + b"}" * 100_000
    return [
        Hostile("not-json", b"{not json at all", "not JSON"),
        Hostile("not-utf8", _json(g(payload={"s": "x"})).replace(b'"x"', b'"\xff\xfe"'),
                "not UTF-8"),
        Hostile("deep", _json(g()).replace(b'{"n": 1}', deep), "nested deeper than 64"),
        Hostile("attempt-1e400", _swap(g(), "attempt", "1e400"), "out of range"),
        Hostile("max-retries-1e400", _swap(g(), "max_retries", "1e400"), "out of range"),
        Hostile("max-retries-400-digits", _swap(g(), "max_retries", "9" * 400),
                "'max_retries' is out of range"),
        Hostile("retry-delay-nan", _swap(g(), "retry_delay", "NaN"), "NaN is not valid JSON"),
        *([] if columns else [
            Hostile("attempt-text", _json(g(attempt="abc")), "'attempt' must be a whole number"),
        ]),
        Hostile("not-object", b"[1, 2, 3]", "not a JSON object"),
        Hostile("no-job", _json(g(job=None)), "field 'job'"),
        Hostile("other-queue", _json(g(queue="elsewhere")), "stored in queue"),
        Hostile("other-id", _json(g(id="someone-else")), "is stored as"),
    ]


def column_kinds(job_id: str, queue: str, job: str) -> list[Hostile]:
    """SQLite only: a readable envelope in a row whose other columns are not ours."""
    body = _json(good(job_id, queue, job, {"n": 1}))
    return [
        Hostile("column-attempt-text", body, "'attempt' must be a whole number",
                {"attempt": "abc"}),
        Hostile("column-attempt-inf", body, "'attempt' must be a whole number",
                {"attempt": float("inf")}),
        Hostile("column-available-text", body, "column 'available_at'",
                {"available_at": "soon"}),
        Hostile("column-available-inf", body, "column 'available_at'",
                {"available_at": float("inf")}),
        Hostile("column-id-not-utf8", body, "column 'id' is not UTF-8",
                {"id": b"\xff" + job_id.encode()}),
    ]


def insert_sqlite(db: sqlite3.Connection, job_id: str, queue: str, hostile: Hostile) -> None:
    """Write ``hostile`` as a due row of the ``jobs`` table, bytes as they are (CAST to TEXT
    stores them unchecked, as a C program writing TEXT would)."""
    cols: dict[str, Any] = {"id": job_id.encode(), "attempt": 0,
                            "available_at": time.time(), **hostile.columns}
    db.execute(
        "INSERT INTO jobs (id, queue, job, state, envelope, available_at, attempt, max_attempts)"
        " VALUES (CAST(?1 AS TEXT), ?2, 'foreign', 'pending', CAST(?3 AS TEXT), ?4, ?5, 1)",
        (cols["id"], queue, hostile.body, cols["available_at"], cols["attempt"]))
