"""Positions of keys and values in a TOML text (``tomllib`` keeps none).

Runs only on text ``tomllib`` accepted, so it can assume valid syntax; on any
surprise it stops and keeps what it found (positions then fall back to a parent).
"""

from __future__ import annotations

import tomllib

from .document import KeyPath, Pos, Positions

_BARE = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")


class _Scanner:
    def __init__(self, text: str) -> None:
        self.text = text
        self.i = 0
        self.pos = Positions()
        self.arrays: dict[KeyPath, int] = {}

    def at(self) -> Pos:
        line = self.text.count("\n", 0, self.i) + 1
        return line, self.i - (self.text.rfind("\n", 0, self.i) + 1) + 1

    def peek(self, n: int = 1) -> str:
        return self.text[self.i : self.i + n]

    def skip(self, newlines: bool) -> None:
        while self.i < len(self.text):
            c = self.text[self.i]
            if c in " \t\r" or (newlines and c == "\n"):
                self.i += 1
            elif c == "#":
                end = self.text.find("\n", self.i)
                self.i = len(self.text) if end < 0 else end
            else:
                return

    def key(self, base: KeyPath) -> KeyPath:
        """A dotted key; records the position of every part."""
        path = base
        while True:
            self.skip(False)
            start = self.at()
            if self.peek() in "\"'":
                begin = self.i
                self.string()
                part = tomllib.loads(f"k = {self.text[begin:self.i]}")["k"]
            else:
                begin = self.i
                while self.i < len(self.text) and self.text[self.i] in _BARE:
                    self.i += 1
                part = self.text[begin : self.i]
            path = (*path, part)
            self.pos.keys.setdefault(path, start)
            self.skip(False)
            if self.peek() != ".":
                return path
            self.i += 1

    def string(self) -> None:
        quote = self.peek(3) if self.peek(3) in ('"""', "'''") else self.peek()
        self.i += len(quote)
        while self.i < len(self.text):
            if quote[0] == '"' and self.text[self.i] == "\\":
                self.i += 2
                continue
            if self.text.startswith(quote, self.i):
                self.i += len(quote)
                extra = 0
                while len(quote) == 3 and extra < 2 and self.peek() == quote[0]:
                    self.i += 1  # '"""a""""' ends with a quote inside the string
                    extra += 1
                return
            self.i += 1

    def value(self, path: KeyPath) -> None:
        self.skip(False)
        self.pos.values[path] = self.at()
        c = self.peek()
        if c in "\"'":
            self.string()
        elif c == "[":
            self.i += 1
            self.items(path, "]", indexed=True)
        elif c == "{":
            self.i += 1
            self.items(path, "}", indexed=False)
        else:
            while self.i < len(self.text) and self.text[self.i] not in ",]}#\n":
                self.i += 1

    def items(self, path: KeyPath, close: str, *, indexed: bool) -> None:
        n = 0
        while True:
            self.skip(True)
            if self.peek() == close or not self.peek():
                self.i += 1
                return
            before = self.i
            if not indexed:
                sub = self.key(path)
                self.skip(False)
                self.i += 1  # '='
            else:
                sub = (*path, n)
                n += 1
            self.value(sub)
            self.skip(True)
            if self.peek() == ",":
                self.i += 1
            elif self.i == before:
                raise ValueError("toml scan stalled")

    def header(self) -> KeyPath:
        array = self.peek(2) == "[["
        start = self.at()
        self.i += 2 if array else 1
        path = self.key(())
        self.i += 2 if array else 1
        if array:
            n = self.arrays.get(path, 0)
            self.arrays[path] = n + 1
            path = (*path, n)
            self.pos.keys.setdefault(path, start)
        self.pos.values.setdefault(path, start)
        return path

    def run(self) -> Positions:
        table: KeyPath = ()
        self.pos.values[()] = (1, 1)
        while True:
            self.skip(True)
            if self.i >= len(self.text):
                return self.pos
            if self.peek() == "[":
                table = self.header()
                continue
            before = self.i
            path = self.key(table)
            if self.i == before:
                raise ValueError("toml scan stalled")
            self.skip(False)
            self.i += 1  # '='
            self.value(path)


def toml_positions(text: str) -> Positions:
    """Positions of every key and value in ``text`` (partial if the scan is confused)."""
    scanner = _Scanner(text)
    try:
        return scanner.run()
    except (IndexError, ValueError, tomllib.TOMLDecodeError):
        return scanner.pos
