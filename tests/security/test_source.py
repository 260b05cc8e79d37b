"""The package speaks JSON only: no pickle, marshal, shelve or unsafe YAML anywhere in it."""

from __future__ import annotations

import re
from pathlib import Path

import runa_runner

PACKAGE = Path(runa_runner.__file__).parent
FORBIDDEN = re.compile(
    r"^\s*(import|from)\s+(c?pickle|_pickle|marshal|shelve|dill|cloudpickle|jsonpickle)\b"
    r"|\byaml\.(unsafe_)?load\(|\byaml\.(Unsafe|Full)?Loader\b|(?<![\w.])(eval|exec)\(",
    re.MULTILINE,
)


def test_no_pickle_marshal_or_unsafe_yaml_in_the_package() -> None:
    sources = sorted(PACKAGE.rglob("*.py"))
    assert len(sources) > 20
    hits = [f"{path.relative_to(PACKAGE)}: {m.group(0).strip()}"
            for path in sources for m in FORBIDDEN.finditer(path.read_text(encoding="utf-8"))]
    assert hits == []
