"""The SQL of the SQLite driver, read once from ``sql/*.sql`` with importlib.resources.

``queries.sql`` holds one statement per ``-- name: NAME`` block; :data:`Q` maps each
name to its text. ``schema.sql`` is the whole schema of :data:`SCHEMA_VERSION`.
"""

from __future__ import annotations

import re
from importlib import resources

#: PRAGMA user_version of a database this code created; bump with a migration.
SCHEMA_VERSION = 2

_NAME_RE = re.compile(r"^-- name: (\w+)\s*$", re.MULTILINE)


def _read(name: str) -> str:
    folder = resources.files(__package__ or "").joinpath("sql")
    return folder.joinpath(name).read_text(encoding="utf-8")


def parse_named(text: str) -> dict[str, str]:
    """Split ``-- name: X`` blocks into ``{X: statement}`` (comment lines dropped)."""
    parts = _NAME_RE.split(text)
    out: dict[str, str] = {}
    for name, body in zip(parts[1::2], parts[2::2], strict=True):
        lines = [ln for ln in body.splitlines() if ln.strip() and not ln.lstrip().startswith("--")]
        out[name] = "\n".join(lines).strip().rstrip(";")
    return out


#: Statement text by name.
Q: dict[str, str] = parse_named(_read("queries.sql"))

def split_script(text: str) -> list[str]:
    """The statements of a script with ``--`` comment lines and no ``;`` inside literals."""
    lines = [ln for ln in text.splitlines() if not ln.lstrip().startswith("--")]
    return [s.strip() for s in "\n".join(lines).split(";") if s.strip()]


#: The schema's statements (idempotent: CREATE ... IF NOT EXISTS).
SCHEMA_STATEMENTS: list[str] = split_script(_read("schema.sql"))
