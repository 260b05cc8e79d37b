"""``${VAR}`` and ``${VAR:-default}`` in manifest strings, so secrets stay out of the file.

``$${`` stands for a literal ``${``. Only string values are expanded (never keys).
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

#: ``$${`` (an escaped literal), or ``${NAME}`` / ``${NAME:-default}``, or a stray ``${``.
_REF = re.compile(r"\$\$\{|\$\{(?:([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\})?")


class EnvError(ValueError):
    """A reference that cannot be expanded (unset variable, bad syntax)."""


def expand(text: str, env: Mapping[str, str]) -> str:
    """Return ``text`` with every reference replaced from ``env``.

    Raises:
        EnvError: a variable is unset and has no default, or a ``${`` is malformed.
    """

    def replace(match: re.Match[str]) -> str:
        if match[0] == "$${":
            return "${"
        name, default = match[1], match[2]
        if name is None:
            raise EnvError(
                f"invalid reference in {text!r} (expected ${{NAME}} or ${{NAME:-default}})"
            )
        value = env.get(name)
        # As in the shell: `:-` also replaces a variable that is set but empty.
        if default is not None and not value:
            return default
        if value is not None:
            return value
        raise EnvError(
            f"environment variable '{name}' is not set (use ${{{name}:-default}} for a default)"
        )

    return _REF.sub(replace, text)


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
