"""Did-you-mean hints for unknown names, in messages of the manifest and the registry,
and the lookup by name that gives them."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from typing import TypeVar

from .errors import UnknownName

T = TypeVar("T")


def did_you_mean(name: str, choices: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` for the closest choice, or an empty string."""
    match = difflib.get_close_matches(name, [c for c in choices if c != name], n=1, cutoff=0.6)
    return f" (did you mean '{match[0]}'?)" if match else ""


def lookup(table: Mapping[str, T], name: str, kind: str) -> T:
    """``table[name]``, or UnknownName: ``unknown queue 'x' (did you mean 'y'?)``."""
    try:
        return table[name]
    except KeyError:
        raise UnknownName(f"unknown {kind} '{name}'" + did_you_mean(name, table)) from None
