"""``create_app``: the dashboard as a Starlette ASGI app (DESIGN §12)."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from .api import Api
from .guard import Guard, GuardMiddleware, json_problem, route_path
from .pages import Pages
from .reads import Problem, Reader

if TYPE_CHECKING:
    from ..registry import Registry

#: Seconds between the overview's refreshes (JavaScript; a <meta> refresh without it).
REFRESH_SECONDS = 5


def create_app(registry: Registry, *, read_only: bool = False, token: str | None = None,
               outside: bool = False) -> Starlette:
    """The dashboard over ``registry``, to serve or to mount in an ASGI service.

    Args:
        registry: the registry whose queues, pools and schedules are shown.
        read_only: refuse every POST that acts on jobs with 403.
        token: when set, every request needs it (``Authorization: Bearer`` or the login
            cookie); mandatory for anything reachable beyond loopback.
        outside: True when this process does not run the workers (``runa-runner
            dashboard``): in-process drivers then show as unknown, not as empty.
    """
    guard = Guard(token=token or None, read_only=read_only)
    reader = Reader(registry, outside=outside)
    templates = Jinja2Templates(env=environment())
    pages = Pages(reader, guard, templates)

    async def refuse(request: Request, problem: Problem) -> Response:
        if route_path(request.scope).startswith("/api/"):
            return json_problem(problem)
        return await pages.problem_page(request, problem)

    static = StaticFiles(packages=[("runa_runner.dashboard", "static")])
    return Starlette(
        routes=[*Api(reader).routes(), *pages.routes(), Mount("/static", static)],
        middleware=[Middleware(GuardMiddleware, guard=guard, refuse=refuse)],
    )


def environment() -> Environment:
    """Jinja with autoescape on for every template, and the dashboard's filters."""
    env = Environment(loader=PackageLoader("runa_runner.dashboard", "templates"),
                      autoescape=select_autoescape(default=True, default_for_string=True))
    env.filters.update(num=num, age=age, when=when, pathpart=pathpart, pretty=pretty,
                       brief=brief, ago=ago)
    env.globals["refresh_seconds"] = REFRESH_SECONDS
    return env


def num(value: int | None) -> str:
    """A count: thousands separated, ``-`` when the driver cannot tell."""
    return "-" if value is None else f"{value:,}"


def age(seconds: float | None) -> str:
    """A duration in its two largest units (``3m 4s``); ``-`` when unknown."""
    if seconds is None:
        return "-"
    s = int(seconds)
    for unit, size, sub, sub_size in (("d", 86400, "h", 3600), ("h", 3600, "m", 60),
                                      ("m", 60, "s", 1)):
        if s >= size:
            return f"{s // size}{unit} {(s % size) // sub_size}{sub}"
    return f"{s}s"


def when(epoch: float | None) -> str:
    """UTC time to the second, and how long ago (or ahead)."""
    if epoch is None:
        return "-"
    try:
        text = datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    except (OverflowError, OSError, ValueError):
        return str(epoch)
    return f"{text} ({ago(epoch)})"


def ago(epoch: float) -> str:
    """How long ago (or ahead) ``epoch`` is: ``3m 4s ago``, ``in 1h 0m``."""
    delta = time.time() - epoch
    return f"{age(delta)} ago" if delta >= 0 else f"in {age(-delta)}"


def pathpart(value: Any) -> str:
    """A name as one URL path segment."""
    return quote(str(value), safe="")


def pretty(value: Any) -> str:
    """A payload or meta as indented JSON text (escaped by the template, not here)."""
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True, default=str)


def brief(value: Any, limit: int = 120) -> str:
    """A payload on one line, cut to ``limit`` characters (a table cell)."""
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"
