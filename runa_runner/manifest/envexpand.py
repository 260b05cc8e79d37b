"""``${VAR}`` and ``${VAR:-default}`` in manifest strings, so secrets stay out of the file.

``$${`` stands for a literal ``${``; a default may hold references (``${A:-${B}}``).
Only string values are expanded (never keys).
The result is a string, except for an unquoted YAML value: there, as in docker
compose, ``concurrency: ${WORKERS:-4}`` becomes the number 4 (a quoted one stays text).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

import yaml

from .document import Document, KeyPath
from .problems import Problem

#: A variable name, as the shell spells it.
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
#: Deepest ``${A:-${B:-...}}`` nesting (the shell has no limit; a manifest needs two or three).
MAX_NESTING = 8


class EnvError(ValueError):
    """A reference that cannot be expanded (unset variable, bad syntax)."""


def expand(text: str, env: Mapping[str, str]) -> str:
    """Return ``text`` with every reference replaced from ``env``.

    A default may itself hold references, expanded only when the default is used,
    as in the shell: ``${A:-${B:-x}}``. Values from ``env`` are inserted verbatim.

    Raises:
        EnvError: a variable is unset and has no default, or a ``${`` is malformed.
    """
    return _Expander(text, env).run()


class _Expander:
    """One left-to-right pass over ``text``; ``live`` is False while skipping an unused default."""

    def __init__(self, text: str, env: Mapping[str, str]) -> None:
        self.text, self.env = text, env

    def run(self) -> str:
        self.sequence(0, live=False, depth=0)  # syntax first: a malformed text names no variable
        out, _ = self.sequence(0, live=True, depth=0)
        return out

    def invalid(self) -> EnvError:
        return EnvError(f"invalid reference in {self.text!r} "
                        "(expected ${NAME} or ${NAME:-default})")

    def sequence(self, i: int, *, live: bool, depth: int) -> tuple[str, int]:
        """Text from ``i`` up to the end (depth 0) or to the ``}`` closing a default."""
        text, parts = self.text, []
        while i < len(text):
            if text.startswith("$${", i):
                parts.append("${")
                i += 3
            elif text.startswith("${", i):
                value, i = self.reference(i + 2, live=live, depth=depth + 1)
                parts.append(value)
            elif depth and text[i] == "}":
                return "".join(parts), i
            else:
                parts.append(text[i])
                i += 1
        if depth:
            raise self.invalid()  # a default left open
        return "".join(parts), i

    def reference(self, i: int, *, live: bool, depth: int) -> tuple[str, int]:
        """``NAME}`` or ``NAME:-default}`` from ``i``: the value and the index after ``}``."""
        if depth > MAX_NESTING:
            raise EnvError(f"references in {self.text[:60]!r} nest deeper than {MAX_NESTING}")
        match = _NAME.match(self.text, i)
        if match is None:
            raise self.invalid()
        name, i = match[0], match.end()
        value = self.env.get(name)
        if self.text.startswith("}", i):
            if live and value is None:
                raise EnvError(f"environment variable '{name}' is not set "
                               f"(use ${{{name}:-default}} for a default)")
            return value or "", i + 1
        if not self.text.startswith(":-", i):
            raise self.invalid()
        # As in the shell: `:-` also replaces a variable that is set but empty.
        use_default = live and not value
        default, i = self.sequence(i + 2, live=use_default, depth=depth)
        return (default if use_default else value or ""), i + 1


def expand_document(doc: Document, env: Mapping[str, str]) -> list[Problem]:
    """Expand every string value of ``doc.body`` in place; one problem per bad string."""
    problems = []
    for path, container, key, text in _strings(doc.body, ()):
        try:
            value = expand(text, env)
        except EnvError as exc:
            problems.append(doc.problem(path, str(exc)))
            continue
        container[key] = _typed(value) if doc.prefix + path in doc.positions.plain else value
    return problems


def _typed(text: str) -> Any:
    """A number or boolean when YAML would read ``text`` as one, else ``text``."""
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        return text
    return value if isinstance(value, int | float) else text


def _strings(node: Any, path: KeyPath) -> Iterator[tuple[KeyPath, Any, Any, str]]:
    items: Any = node.items() if isinstance(node, dict) else enumerate(node)
    for key, value in list(items):
        if isinstance(value, str) and "${" in value:
            yield (*path, key), node, key, value
        elif isinstance(value, dict | list):
            yield from _strings(value, (*path, key))
