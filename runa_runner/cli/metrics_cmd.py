"""``runa-runner metrics [--listen HOST:PORT]``: serve the manifest's broker-side gauges.

Every queue's counts and oldest runnable age, every pool's live instances and whether
each driver answers, read through the read API when Prometheus scrapes (DESIGN §11).
Runs until SIGTERM/SIGINT, then exits 0.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from typing import Any

from ..errors import ConfigError
from . import context

log = logging.getLogger("runa_runner.cli")


def add_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "metrics", parents=[common], help="serve queue gauges for Prometheus",
        description="Serve the gauges of every queue and worker pool of the manifest at "
                    "http://HOST:PORT/metrics, read from the drivers at scrape time "
                    "(cached for a second). Needs: pip install 'runa-runner[metrics]'.")
    p.add_argument("--listen", metavar="HOST:PORT", type=address, default=None,
                   help="address to listen on (default 127.0.0.1:9464)")
    p.set_defaults(func=run)


def address(text: str) -> tuple[str, int]:
    """argparse type of HOST:PORT options: a bad one is a usage error naming it."""
    from ..observe.prom import parse_address

    try:
        return parse_address(text)
    except ConfigError as exc:
        raise argparse.ArgumentTypeError(exc.message) from None


def run(args: argparse.Namespace) -> int:
    from ..observe import exporter, prom

    registry = context.load(args, import_handlers=False)
    where = args.listen or prom.DEFAULT_LISTEN
    collected, broker = exporter.collector(registry)
    try:
        server = prom.serve(where, collected)
        stop = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
        print(f"runa-runner: serving metrics on http://{where[0]}:{server.server_port}/metrics",
              file=sys.stderr, flush=True)
        stop.wait()
        server.shutdown()
    finally:
        broker.close()
    return 0
