"""Loopback-only Host check for ``runa-runner dashboard`` on loopback without a token."""

from __future__ import annotations

from starlette.requests import HTTPConnection
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send


class LoopbackHosts:
    """Answers only requests addressed to a loopback name (``--listen`` on loopback
    without a token): a web page whose name an attacker points at 127.0.0.1 (DNS
    rebinding) is refused, though the browser thinks it same-origin."""

    NAMES = frozenset({"localhost", "127.0.0.1", "[::1]", "::1"})

    def __init__(self, app: ASGIApp, extra: str = "") -> None:
        self.app = app
        self.names = self.NAMES | ({extra} if extra else set())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            host = HTTPConnection(scope).headers.get("host", "")
            name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
            if name.lower() not in self.names:
                response = JSONResponse({"error": f"unexpected Host header {host!r}"}, 400)
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)
