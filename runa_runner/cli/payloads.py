"""Reading payloads for ``push``: ``--json TEXT|@FILE|-`` and ``--jsonl FILE|-``.

Everything is read and checked before anything is pushed, so a bad input
enqueues nothing: every line is decoded within the limits a stored record must
keep (limits.py), encoded, and checked against the job's payload type and its
queue's size limit. Errors say where: the JSON position, or the line number.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable
from typing import Any

from ..errors import PayloadInvalid, RunaError
from ..limits import MAX_PAYLOAD_DEPTH
from ..records import too_deep

#: ``--jsonl`` errors printed before "... and N more".
MAX_LINE_ERRORS = 20


class InputError(RunaError):
    """A payload given on the command line cannot be read or is not valid JSON."""


class LinesInvalid(RunaError):
    """Some ``--jsonl`` lines are invalid; ``lines`` holds one message per bad line."""

    def __init__(self, lines: list[str]) -> None:
        self.lines = lines
        super().__init__("\n".join(lines))


def read_source(source: str, option: str) -> str:
    """The text of ``-`` (stdin), ``@FILE`` (for --json) or FILE (for --jsonl)."""
    if source == "-":
        return sys.stdin.read()
    path = source[1:] if option == "--json" and source.startswith("@") else source
    if option == "--json" and path is source:
        return source  # inline JSON text
    try:
        with open(path, encoding="utf-8") as fh:
            return fh.read()
    except OSError as exc:
        raise InputError(f"{option}: cannot read {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise InputError(f"{option}: {path} is not UTF-8 text: {exc.reason}") from None


def parse_json(text: str, where: str) -> Any:
    """Decoded JSON, or InputError saying where it broke (line and column)."""
    try:
        return decode(text)
    except json.JSONDecodeError as exc:
        raise InputError(
            f"{where}: invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
        ) from None
    except ValueError as exc:
        raise InputError(f"{where}: {exc}") from None


def decode(text: str) -> Any:
    """JSON within the depth a stored job may have (a deeper one would overflow the
    parser's stack); ValueError (JSONDecodeError for syntax) otherwise."""
    if too_deep(text, MAX_PAYLOAD_DEPTH):
        raise ValueError(f"payload is nested deeper than {MAX_PAYLOAD_DEPTH} levels")
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        raise
    except ValueError:  # an integer of more digits than Python converts
        raise ValueError(f"invalid JSON: an integer of more than "
                         f"{sys.get_int_max_str_digits()} digits") from None


#: A ``--jsonl`` input: (line number, payload) for every non-blank line.
Lines = list[tuple[int, Any]]


def read_lines(text: str, check: Callable[[Any], None]) -> Lines:
    """Every non-blank line's payload, each checked by ``check`` (Pusher.checker:
    payload type, encoding, size) before anything is pushed.

    Raises:
        LinesInvalid: one ``line N: ...`` message per bad line (capped), nothing returned.
    """
    payloads: Lines = []
    errors: list[str] = []
    for number, line in numbered(text.splitlines()):
        try:
            payload = decode(line)
            check(payload)
        except json.JSONDecodeError as exc:
            errors.append(f"line {number}: invalid JSON at column {exc.colno}: {exc.msg}")
        except PayloadInvalid as exc:
            errors += [f"line {number}: {msg}" for msg in str(exc).splitlines()]
        except ValueError as exc:
            errors.append(f"line {number}: {exc}")
        else:
            payloads.append((number, payload))
    if errors:
        extra = len(errors) - MAX_LINE_ERRORS
        raise LinesInvalid(errors[:MAX_LINE_ERRORS] + ([f"... and {extra} more"] if extra > 0
                                                       else []))
    return payloads


def numbered(lines: Iterable[str]) -> Iterable[tuple[int, str]]:
    """(1-based line number, line) for lines that are not blank."""
    return ((n, line) for n, line in enumerate(lines, start=1) if line.strip())
