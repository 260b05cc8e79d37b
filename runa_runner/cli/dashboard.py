"""``runa-runner dashboard [--listen HOST:PORT] [--read-only]``: serve the web dashboard
(DESIGN §12) with uvicorn until Ctrl-C.

Loopback by default. Any other address needs ``RUNA_DASHBOARD_TOKEN``: the command
refuses to start without it rather than expose job payloads and the retry buttons.
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import socket
import sys
from typing import Any

from ..errors import ConfigError, MissingExtra
from . import context

DEFAULT_LISTEN = "127.0.0.1:8765"
TOKEN_ENV = "RUNA_DASHBOARD_TOKEN"
INSTALL = "pip install 'runa-runner[dashboard]'"


def add_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("dashboard", parents=[common], help="serve the web dashboard",
                       description="Serve the web dashboard: queues, pools, schedules, jobs, "
                                   "and retry/delete of failed jobs. A non-loopback --listen "
                                   f"needs the token in ${TOKEN_ENV}.")
    p.add_argument("--listen", type=listen_address, default=listen_address(DEFAULT_LISTEN),
                   metavar="HOST:PORT", help=f"address to serve on (default {DEFAULT_LISTEN})")
    p.add_argument("--read-only", action="store_true",
                   help="refuse every action (retry, delete) with 403")
    p.set_defaults(func=run)


def listen_address(text: str) -> tuple[str, int]:
    """argparse type for HOST:PORT (IPv6 in brackets: ``[::1]:8765``)."""
    host, sep, port = text.rpartition(":")
    host = host.removeprefix("[").removesuffix("]")
    if not sep or not host or not port.isdigit() or int(port) > 65535:
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, got {text!r}")
    return host, int(port)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a name: it may resolve to anything


def run(args: argparse.Namespace) -> int:
    host, port = args.listen
    token = os.environ.get(TOKEN_ENV) or None
    if not is_loopback(host) and token is None:
        raise ConfigError(f"--listen {host}:{port} is not a loopback address: "
                          f"set {TOKEN_ENV} to require a token (or listen on 127.0.0.1)")
    try:
        import uvicorn

        from ..dashboard import create_app
    except ImportError as exc:
        raise MissingExtra(f"the dashboard needs an optional dependency ({exc.name}): "
                           f"{INSTALL}") from None
    registry = context.load(args, import_handlers=False)
    app: Any = create_app(registry, read_only=args.read_only, token=token, outside=True)
    if token is None:
        from ..dashboard.hosts import LoopbackHosts

        app = LoopbackHosts(app)
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")
    sock = bind(host, port)
    return context.run_with(registry, lambda r: serve(uvicorn.Server(config), sock, args))


def bind(host: str, port: int) -> socket.socket:
    """The listening socket, bound here so a taken port is one clear error line."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        return socket.create_server((host, port), family=family, backlog=128)
    except OSError as exc:
        raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None


async def serve(server: Any, sock: socket.socket, args: argparse.Namespace) -> int:
    """Serve until Ctrl-C; say once where (the real port, so ``--listen HOST:0`` works)."""
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    mode = " (read-only)" if args.read_only else ""
    print(f"runa-runner: dashboard on http://{shown}:{port}/{mode}", file=sys.stderr, flush=True)
    await server.serve(sockets=[sock])
    return 0
