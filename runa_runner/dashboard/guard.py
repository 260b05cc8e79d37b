"""Who may use the dashboard, and how a request proves it (DESIGN §12 "Safety").

- Token: with one set, every request but the login page and the static assets carries
  it, as ``Authorization: Bearer TOKEN`` or as the session cookie the login form sets
  (HttpOnly, SameSite=Strict, holding an HMAC of the token, not the token). Otherwise
  401.
- Read-only: every POST that acts on jobs is refused with 403 (logging in is not one).
- CSRF, forms: every form carries ``csrf``, an HMAC (with a secret made when the app
  starts) of a random nonce kept in the ``runa_csrf`` cookie (SameSite=Strict). A form
  posted without the pair, or with a forged one, is refused with 403.
- CSRF, JSON: a POST under ``/api/`` is accepted with the bearer token, or as a
  same-origin JSON request: ``Content-Type: application/json`` (which a cross-site page
  can send only after a CORS preflight, never granted here) and, when the browser says
  where it comes from (``Origin``, ``Sec-Fetch-Site``), from this origin. Else 415/403.
- Every answer carries a Content-Security-Policy allowing only this origin's own script
  and style (defence in depth behind the templates' escaping), and refuses framing.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from starlette.datastructures import FormData, MutableHeaders
from starlette.requests import HTTPConnection, Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .admin import MAX_IDS
from .reads import Problem

SESSION_COOKIE = "runa_session"
CSRF_COOKIE = "runa_csrf"
CSRF_FIELD = "csrf"
#: Paths anyone may reach: the login form and the CSS/JS (which hold nothing secret).
OPEN_PREFIXES = ("/login", "/static/")
#: POSTs a read-only dashboard still accepts: they act on no job.
SESSION_PATHS = ("/login", "/logout")

HEADERS = {
    "content-security-policy": "default-src 'none'; script-src 'self'; style-src 'self'; "
                               "img-src 'self'; connect-src 'self'; form-action 'self'; "
                               "frame-ancestors 'none'; base-uri 'none'",
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "same-origin",
}


def route_path(scope: Scope) -> str:
    """The path inside the app (a mounted app's prefix removed)."""
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    return path[len(root):] if root and path.startswith(root) else path


@dataclass
class Guard:
    """The dashboard's safety settings and checks."""

    token: str | None = None
    read_only: bool = False
    #: signs CSRF tokens; new at every start (a form from before a restart is refused)
    secret: bytes = field(default_factory=lambda: secrets.token_bytes(32))

    # ---- authentication ------------------------------------------------------------

    def session_value(self) -> str:
        assert self.token is not None
        return hmac.new(self.token.encode(), b"runa-dashboard session",
                        hashlib.sha256).hexdigest()

    def bearer(self, conn: HTTPConnection) -> bool:
        """Whether the request carries the token as ``Authorization: Bearer``."""
        scheme, _, value = conn.headers.get("authorization", "").partition(" ")
        return (self.token is not None and scheme.lower() == "bearer"
                and hmac.compare_digest(value.strip().encode(), self.token.encode()))

    def admitted(self, conn: HTTPConnection) -> bool:
        if self.token is None or self.bearer(conn):
            return True
        cookie = conn.cookies.get(SESSION_COOKIE, "")
        return hmac.compare_digest(cookie.encode(), self.session_value().encode())

    def login_ok(self, sent: str) -> bool:
        return self.token is not None and hmac.compare_digest(sent.encode(), self.token.encode())

    # ---- CSRF ----------------------------------------------------------------------

    def csrf_for(self, nonce: str) -> str:
        return hmac.new(self.secret, nonce.encode(), hashlib.sha256).hexdigest()

    async def form(self, request: Request) -> FormData:
        """The posted form, once its CSRF token is checked.

        Raises:
            Problem: 403 when the token is missing or does not match the cookie.
        """
        form = await request.form(max_files=0, max_fields=MAX_IDS + 16)
        nonce = request.cookies.get(CSRF_COOKIE, "")
        sent = form.get(CSRF_FIELD)
        if not nonce or not isinstance(sent, str) or not hmac.compare_digest(
                sent.encode(), self.csrf_for(nonce).encode()):
            raise Problem(403, "the form's CSRF token is missing or wrong: "
                               "reload the page and try again")
        return form

    def json_post_refusal(self, conn: HTTPConnection) -> Problem | None:
        """Why a JSON POST is refused (None: accepted)."""
        if self.bearer(conn):
            return None
        kind = conn.headers.get("content-type", "").split(";")[0].strip().lower()
        if kind != "application/json":
            return Problem(415, "POST /api/ needs Content-Type: application/json")
        origin = conn.headers.get("origin")
        own = f"{conn.url.scheme}://{conn.headers.get('host', '')}"
        site = conn.headers.get("sec-fetch-site", "same-origin")
        if (origin is not None and origin != own) or site not in ("same-origin", "none"):
            return Problem(403, "cross-origin POST refused")
        return None

    # ---- the whole check -----------------------------------------------------------

    def refusal(self, conn: HTTPConnection, method: str) -> Problem | None:
        """Why this request is refused before any handler runs (None: go on)."""
        path = route_path(conn.scope)
        if not path.startswith(OPEN_PREFIXES) and not self.admitted(conn):
            return Problem(401, "a token is needed: log in, or send Authorization: Bearer")
        if method in ("GET", "HEAD"):
            return None
        if self.read_only and not path.startswith(SESSION_PATHS):
            return Problem(403, "this dashboard is read-only")
        if path.startswith("/api/"):
            return self.json_post_refusal(conn)
        return None


Refuse = Callable[[Request, Problem], Awaitable[Response]]


class GuardMiddleware:
    """Runs :meth:`Guard.refusal` before the app and adds :data:`HEADERS` to answers."""

    def __init__(self, app: ASGIApp, guard: Guard, refuse: Refuse) -> None:
        self.app = app
        self.guard = guard
        self.refuse = refuse

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in HEADERS.items():
                    headers.setdefault(name, value)
            await send(message)

        request = Request(scope, receive)
        problem = self.guard.refusal(request, scope["method"])
        if problem is None:
            await self.app(scope, receive, send_with_headers)
            return
        response = await self.refuse(request, problem)
        if problem.status == 401:
            response.headers["www-authenticate"] = 'Bearer realm="runa-runner dashboard"'
        await response(scope, receive, send_with_headers)


def json_problem(problem: Problem) -> JSONResponse:
    return JSONResponse({"error": problem.message}, status_code=problem.status)
