"""Small pieces of the dashboard: --listen parsing, what counts as loopback, and how
counts, ages and payloads are written on the page."""

from __future__ import annotations

import argparse
import re
import time

import pytest

from runa_runner.cli.dashboard import is_loopback, listen_address

shown = pytest.importorskip("runa_runner.dashboard.app",
                            reason="the dashboard extra is not installed")
age, ago, brief, num = shown.age, shown.ago, shown.brief, shown.num


@pytest.mark.parametrize(("text", "expected"), [
    ("127.0.0.1:8765", ("127.0.0.1", 8765)), ("[::1]:0", ("::1", 0)),
    ("0.0.0.0:80", ("0.0.0.0", 80)), ("localhost:65535", ("localhost", 65535)),
])
def test_listen_addresses(text: str, expected: tuple[str, int]) -> None:
    assert listen_address(text) == expected


@pytest.mark.parametrize("text", ["8765", ":8765", "host:", "host:x", "host:65536", "[]:1"])
def test_bad_listen_addresses(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError,
                       match=re.escape(f"expected HOST:PORT, got {text!r}")):
        listen_address(text)


@pytest.mark.parametrize(("host", "loopback"), [
    ("127.0.0.1", True), ("127.8.0.1", True), ("::1", True), ("localhost", True),
    ("0.0.0.0", False), ("::", False), ("192.168.1.2", False), ("example.com", False),
])
def test_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_counts_ages_and_payloads_as_shown() -> None:
    assert (num(None), num(0), num(1_000_000)) == ("-", "0", "1,000,000")
    assert [age(s) for s in (None, 0, 59.9, 61, 3600, 90061)] == [
        "-", "0s", "59s", "1m 1s", "1h 0m", "1d 1h"]
    assert ago(time.time() - 125).endswith("ago") and ago(time.time() + 125).startswith("in ")
    assert brief({"to": "<b>"}) == '{"to": "<b>"}'  # escaped by the template, not here
    long = brief({"k": "x" * 500})
    assert len(long) == 120 and long.endswith("…")
