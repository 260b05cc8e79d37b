"""``runa-runner schema``: print the manifest JSON Schema (for editors and CI)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ..manifest import schema_text


def add_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    parser = sub.add_parser(
        "schema", parents=[common], help="print the manifest JSON Schema",
        description="Print the manifest JSON Schema (2020-12) that validate uses.",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    text = schema_text()
    sys.stdout.write(text if text.endswith("\n") else text + "\n")
    return 0
