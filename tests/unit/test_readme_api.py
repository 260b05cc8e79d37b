"""The README's "Python API" section names the whole public API: every export of
``runa_runner`` and every public method and property of ``Registry`` and ``Unit``."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import runa_runner as rr

README = Path(__file__).resolve().parents[2] / "README.md"


def api_section() -> str:
    return README.read_text("utf-8").split("\n## Python API", 1)[1].split("\n## ", 1)[0]


def code_words() -> set[str]:
    """Every identifier inside a `code span` (or a code block) of the section."""
    section = api_section()
    spans = re.findall(r"`([^`\n]+)`", section) + re.findall(r"```python\n(.*?)```",
                                                             section, re.S)
    return {word for span in spans for word in re.findall(r"[A-Za-z_][A-Za-z0-9_]*", span)}


def public(cls: type) -> list[str]:
    return [name for name in vars(cls) if not name.startswith("_")]


@pytest.mark.parametrize("name", [n for n in rr.__all__ if n != "__version__"] + ["__version__"])
def test_every_export_is_named(name: str) -> None:
    assert name in code_words()


@pytest.mark.parametrize("name", public(rr.Registry) + public(rr.Unit))
def test_every_registry_and_unit_method_is_named(name: str) -> None:
    assert name in code_words()
