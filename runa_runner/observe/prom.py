"""Where prometheus-client comes from (the ``[metrics]`` extra) and how a server listens.

Imported only by ``work --metrics`` and ``runa-runner metrics``: nothing listens, and
nothing imports prometheus-client, unless asked.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any

from ..errors import ConfigError, MissingExtra

#: ``runa-runner metrics``' default address (9464: the usual exporter port range).
DEFAULT_LISTEN = ("127.0.0.1", 9464)
#: Label value for a name the manifest does not declare (labels never come from data).
OTHER = "<other>"


def client() -> ModuleType:
    """The prometheus_client module, or MissingExtra with the pip line."""
    try:
        return importlib.import_module("prometheus_client")
    except ImportError:
        raise MissingExtra(
            "metrics need an optional dependency (prometheus-client): "
            "pip install 'runa-runner[metrics]'") from None


def parse_address(text: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[::1]:9464`` for IPv6; ``:9464`` means all interfaces).

    Raises:
        ConfigError: no port, or a port outside 0..65535.
    """
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ConfigError(f"address must be HOST:PORT (e.g. 127.0.0.1:9464), got {text!r}")
    host = host.strip("[]") or "0.0.0.0"
    return host, int(port)


def serve(address: tuple[str, int], registry: Any) -> Any:
    """Serve ``registry`` at ``http://HOST:PORT/metrics`` from a daemon thread; the server.

    Raises:
        ConfigError: the address cannot be bound (in use, not ours).
    """
    host, port = address
    try:
        server, _thread = client().start_http_server(port, addr=host, registry=registry)
    except OSError as exc:
        raise ConfigError(f"cannot serve metrics on {host}:{port}: {exc.strerror or exc}") \
            from exc
    return server
