"""The fuzz tier: hypothesis feeds generated manifests and payloads to the CLI in-process.

Every case must end with an exit code and clear lines: never a traceback, never the
repr of an internal exception. The examples per test are capped (see each test) so
the tier stays near a minute; ``RUNA_FUZZ_SCALE`` multiplies them.
"""

from __future__ import annotations

import os
import re

from hypothesis import HealthCheck, settings

#: ``RUNA_FUZZ_SCALE=10`` runs ten times the examples (a deeper local hunt).
SCALE = float(os.environ.get("RUNA_FUZZ_SCALE", "1"))


def fuzz(examples: int) -> settings:
    """Settings of one fuzz test: ``examples`` cases, no deadline (the machine is shared)."""
    return settings(
        max_examples=max(1, int(examples * SCALE)), deadline=None, print_blob=True,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                               HealthCheck.data_too_large],
    )

#: Text that betrays an internal error leaking to the user.
LEAKS = re.compile(
    r"Traceback|File \"|\bError\(|Exception\(|<[\w.]+ object at 0x|"
    r"\b(KeyError|AttributeError|TypeError|IndexError|AssertionError|RecursionError|"
    r"UnboundLocalError|NameError|ZeroDivisionError)\b"
)


def assert_clear(text: str) -> None:
    """No traceback and no repr of an internal exception in ``text``."""
    found = LEAKS.search(text)
    assert found is None, f"internal error leaked ({found.group(0)!r}):\n{text}"
