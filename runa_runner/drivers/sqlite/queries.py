"""The SQL of the SQLite driver, read once from ``sql/*.sql`` with importlib.resources.

``queries.sql`` holds one statement per ``-- name: NAME`` block; :data:`Q` maps each
name to its text. ``schema.sql`` is the whole schema of :data:`SCHEMA_VERSION`, but for
``failed_counts.sql`` (named blocks too: trigger bodies hold ``;``), which any version
gains when it lacks it.
"""

from __future__ import annotations

from ..sqlfiles import parse_named, read_sql, split_script

#: PRAGMA user_version of a database this code created; bump with a migration.
SCHEMA_VERSION = 2

def _read(name: str) -> str:
    return read_sql(__package__ or "", name)


#: Statement text by name.
Q: dict[str, str] = parse_named(_read("queries.sql"))



#: The failed-count table and its triggers, by name (sql/failed_counts.sql).
FAILED_COUNTS: dict[str, str] = parse_named(_read("failed_counts.sql"))

#: Kept results and cancel requests, by name (sql/results.sql; tables made on every open).
RESULTS: dict[str, str] = parse_named(_read("results.sql"))
#: Pause and flow-control statements by name (sql/flow.sql; its tables made on every open).
FLOW: dict[str, str] = parse_named(_read("flow.sql"))

#: The schema's statements (idempotent: CREATE ... IF NOT EXISTS).
SCHEMA_STATEMENTS: list[str] = split_script(_read("schema.sql"))
