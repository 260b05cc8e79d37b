"""Kept results and cancel requests of the PostgreSQL driver, as plans (see ``moves.py``);
the SQL is in ``sql/results.sql``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import cache
from typing import Any

from ...records import CorruptRecord
from ...results import decode_result
from ..base import CancelOutcome, JobRecord, Outcome
from ..sqlfiles import parse_named, read_sql
from . import records
from .moves import Plan
from .queries import quote_ident

_SQL = parse_named(read_sql(__package__ or "", "results.sql"))
#: The blocks that create the tables (run under the schema's advisory lock).
TABLES = ("results_table", "results_expiry", "cancels_table")


@cache
def statements(schema: str) -> dict[str, bytes]:
    """Every statement of results.sql by name, for ``schema``."""
    return {k: v.replace("{schema}", quote_ident(schema)).encode() for k, v in _SQL.items()}


def table_statements(schema: str) -> list[bytes]:
    q = statements(schema)
    return [q[name] for name in TABLES]


def keep(r: Mapping[str, bytes], outcomes: Sequence[Outcome], channel: str,
         notify: bool) -> Plan[None]:
    """Copy the held jobs of acks that keep a result (before their settle acks them)."""
    yield r["keep"], {
        "queues": [o.queue for o in outcomes], "ids": [o.job_id for o in outcomes],
        "tokens": [o.token for o in outcomes],
        "results": [o.result or "null" for o in outcomes],
        "ttls": [float(o.result_ttl) for o in outcomes],
        "channel": channel, "notify": notify,
    }


def kept(row: Sequence[Any], queue: str) -> JobRecord:
    """A ``kept`` row as a succeeded record (an unreadable one is shown, never guessed)."""
    record = records.job(queue, row[:10])
    try:
        result = decode_result(row[10])
    except CorruptRecord as exc:
        result = f"<unreadable: {exc}>"
    return JobRecord(record.envelope, "succeeded", result=result,
                     finished_at=float(row[11]))


def cancel(q: Mapping[str, bytes], r: Mapping[str, bytes], queue: str, job_id: str,
           lease_lost: str) -> Plan[CancelOutcome | None]:
    """Delete a waiting job or record a cancel for the run holding a reserved one (one
    transaction: the row is locked from look to act)."""
    key = {"queue": queue, "id": job_id}
    yield q["recover"], {"queue": queue, "lease_lost": lease_lost}
    rows = yield r["state"], key
    if rows:
        state, token = rows[0]
        if state == "reserved":
            yield r["sweep_cancels"], {}
            yield r["request_cancel"], {**key, "token": token}
            return "requested"
        deleted = yield q["delete"], key
        return "deleted" if deleted and deleted[0][0] else None
    if (yield r["in_failed"], key):
        return "failed"
    if (yield r["kept"], key):
        return "succeeded"
    return None
