"""SQL resource files shared by the SQL drivers: read with importlib.resources, split into
``-- name: NAME`` blocks or into the statements of a script."""

from __future__ import annotations

import re
from importlib import resources

_NAME_RE = re.compile(r"^-- name: (\w+)\s*$", re.MULTILINE)


def read_sql(package: str, name: str) -> str:
    """The text of ``sql/<name>`` inside ``package``."""
    return resources.files(package).joinpath("sql").joinpath(name).read_text(encoding="utf-8")


def parse_named(text: str) -> dict[str, str]:
    """Split ``-- name: X`` blocks into ``{X: statement}`` (comment lines dropped)."""
    parts = _NAME_RE.split(text)
    out: dict[str, str] = {}
    for name, body in zip(parts[1::2], parts[2::2], strict=True):
        lines = [ln for ln in body.splitlines() if ln.strip() and not ln.lstrip().startswith("--")]
        out[name] = "\n".join(lines).strip().rstrip(";")
    return out


def split_script(text: str) -> list[str]:
    """The statements of a script with ``--`` comment lines and no ``;`` inside literals."""
    lines = [ln for ln in text.splitlines() if not ln.lstrip().startswith("--")]
    return [s.strip() for s in "\n".join(lines).split(";") if s.strip()]
