"""The SQL of the PostgreSQL driver, read once from ``sql/*.sql`` with importlib.resources.

``queries.sql`` holds one statement per ``-- name: NAME`` block; :func:`statements`
returns them for one schema, with the quoted schema name put in place of ``{schema}``.
``schema.sql`` creates the tables of :data:`SCHEMA_VERSION`.
"""

from __future__ import annotations

from functools import cache

from ..sqlfiles import parse_named, read_sql, split_script

#: The version a schema created by this code records in its ``schema_version`` table.
SCHEMA_VERSION = 2

def _read(name: str) -> str:
    return read_sql(__package__ or "", name)




def quote_ident(name: str) -> str:
    """``name`` as a PostgreSQL quoted identifier (any text is safe inside)."""
    return '"' + name.replace('"', '""') + '"'


#: The pushes of jobs without a unique key, each also as ``NAME_fresh`` without
#: ``ON CONFLICT (id) DO NOTHING``: the id is new, so a plain insert is right, and
#: cheaper (no speculative insertion). The tolerant form serves the one case where the
#: id may exist: a push tried again after a dropped connection (it may have committed),
#: and a push in a caller's transaction, whose own retries runa-runner cannot see.
FRESH = ("push", "push_arrays", "push_one")
_TOLERANT = "ON CONFLICT (id) DO NOTHING"

_QUERIES = parse_named(_read("queries.sql"))
_SCHEMA = split_script(_read("schema.sql"))


@cache
def statements(schema: str) -> dict[str, bytes]:
    """Every statement by name for ``schema`` (bytes, as psycopg takes a query built at
    run time); ``reserve`` and ``recover`` are composed from their fragments."""
    q = {k: v.replace("{schema}", quote_ident(schema)) for k, v in _QUERIES.items()}
    q["recover"] = q["recover_ctes"] + "\n" + q.pop("recover_tail")
    q["reserve"] = q["recover_ctes"] + "\n" + q.pop("reserve_tail")
    del q["recover_ctes"]
    for name in FRESH:
        assert _TOLERANT in q[name], name
        q[name + "_fresh"] = q[name].replace(_TOLERANT, "")
    return {k: v.encode() for k, v in q.items()}


def schema_statements(schema: str) -> list[bytes]:
    """The idempotent statements that create ``schema``'s tables."""
    return [s.replace("{schema}", quote_ident(schema)).encode() for s in _SCHEMA]
