"""The HTML pages: overview, a queue's jobs, a job, schedules, login (DESIGN §12).

Pages read without JavaScript; forms carry the CSRF token (:mod:`.guard`), and every
value reaches the page through Jinja's autoescape, so a payload is text, never markup.
After an action the browser is sent back with 303 (reload does not repeat it).
"""

from __future__ import annotations

import secrets
from typing import Any
from urllib.parse import quote, urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route
from starlette.templating import Jinja2Templates

from ..drivers.base import LIST_STATES
from . import admin
from .api import query_after, query_limit
from .guard import CSRF_COOKIE, SESSION_COOKIE, Guard
from .reads import Problem, Reader

#: Statuses a queue page shows in place of the list (the tabs stay usable).
IN_PLACE = (501, 503)


class Pages:
    """The HTML endpoints over one :class:`Reader`."""

    def __init__(self, reader: Reader, guard: Guard, templates: Jinja2Templates) -> None:
        self.reader = reader
        self.guard = guard
        self.templates = templates

    def routes(self) -> list[Route]:
        return [
            Route("/", self.page(self.overview), name="overview"),
            Route("/schedules", self.page(self.schedules)),
            Route("/jobs/{job_id:path}", self.page(self.job)),
            Route("/queues/{queue:path}/failed/retry", self.page(self.retry), methods=["POST"]),
            Route("/queues/{queue:path}/failed/delete", self.page(self.delete),
                  methods=["POST"]),
            Route("/queues/{queue:path}", self.page(self.queue)),
            Route("/login", self.page(self.login), methods=["GET", "POST"]),
            Route("/logout", self.page(self.logout), methods=["POST"]),
        ]

    # ---- rendering -----------------------------------------------------------------

    def render(self, request: Request, name: str, context: dict[str, Any],
               status: int = 200) -> Response:
        """A template with what every page needs: its root, the CSRF token, the mode."""
        nonce = request.cookies.get(CSRF_COOKIE) or secrets.token_urlsafe(24)
        context = {
            **context, "root": root(request), "csrf": self.guard.csrf_for(nonce),
            "read_only": self.guard.read_only, "with_token": self.guard.token is not None,
        }
        response = self.templates.TemplateResponse(request, name, context, status_code=status)
        response.headers["cache-control"] = "no-store"
        if CSRF_COOKIE not in request.cookies:
            set_cookie(request, response, CSRF_COOKIE, nonce)
        return response

    async def problem_page(self, request: Request, problem: Problem) -> Response:
        if problem.status == 401:
            return self.render(request, "login.html",
                               {"message": problem.message, "anonymous": True}, 401)
        return self.render(request, "error.html", {"problem": problem}, problem.status)

    def page(self, handler: Any) -> Any:
        async def endpoint(request: Request) -> Response:
            try:
                response: Response = await handler(request)
                return response
            except Problem as problem:
                return await self.problem_page(request, problem)

        return endpoint

    # ---- pages ---------------------------------------------------------------------

    async def overview(self, request: Request) -> Response:
        return self.render(request, "overview.html", {"view": await self.reader.overview()})

    async def schedules(self, request: Request) -> Response:
        api = self.reader.inspector()
        rows, note = await self.reader.schedules(api)
        return self.render(request, "schedules.html", {"schedules": rows, "note": note})

    async def job(self, request: Request) -> Response:
        info = await self.reader.job(request.path_params["job_id"])
        return self.render(request, "job.html", {"job": info})

    async def queue(self, request: Request) -> Response:
        queue = request.path_params["queue"]
        self.reader.known_queue(queue)
        state = request.query_params.get("state", "pending")
        if state not in LIST_STATES:
            raise Problem(400, f"state must be one of {', '.join(LIST_STATES)}, got {state!r}")
        limit, after = query_limit(request), query_after(request)
        page, notice = None, None
        try:
            page = await self.reader.page(queue, state, limit, after)
        except Problem as problem:
            if problem.status not in IN_PLACE:
                raise
            notice = problem.message
        info = await self.reader.inspector().queue(self.reader.registry.queue_spec(queue))
        return self.render(request, "queue.html", {
            "queue": info, "state": state, "states": LIST_STATES, "page": page,
            "notice": notice, "after": after, "limit": limit, "done": done_message(request),
        })

    async def retry(self, request: Request) -> Response:
        return await self.act(request, "retry")

    async def delete(self, request: Request) -> Response:
        return await self.act(request, "delete")

    async def act(self, request: Request, action: admin.Action) -> Response:
        queue = request.path_params["queue"]
        form = await self.guard.form(request)
        chosen = admin.from_form(form, action)
        count = await admin.act(self.reader, queue, action, chosen)
        if form.get("back") == "job" and action == "retry" and chosen.ids:
            return redirect(request, f"/jobs/{quote(chosen.ids[0], safe='')}")
        query = urlencode({"state": "failed", "done": action, "count": count})
        return redirect(request, f"/queues/{quote(queue, safe='')}?{query}")

    async def login(self, request: Request) -> Response:
        if self.guard.token is None:
            return redirect(request, "/")
        if request.method == "GET":
            return self.render(request, "login.html", {"message": None, "anonymous": True})
        form = await self.guard.form(request)
        sent = form.get("token")
        if not isinstance(sent, str) or not self.guard.login_ok(sent):
            return self.render(request, "login.html",
                               {"message": "wrong token", "anonymous": True}, 401)
        response = redirect(request, "/")
        set_cookie(request, response, SESSION_COOKIE, self.guard.session_value())
        return response

    async def logout(self, request: Request) -> Response:
        await self.guard.form(request)
        response = redirect(request, "/login")
        response.delete_cookie(SESSION_COOKIE, path=cookie_path(request))
        return response


def root(request: Request) -> str:
    """Where the app is mounted ('' at the top): every link starts with it."""
    prefix: str = request.scope.get("root_path", "")
    return prefix.rstrip("/")


def cookie_path(request: Request) -> str:
    return root(request) + "/"


def set_cookie(request: Request, response: Response, name: str, value: str) -> None:
    response.set_cookie(name, value, path=cookie_path(request), httponly=True,
                        samesite="strict", secure=request.url.scheme == "https")


def redirect(request: Request, path: str) -> RedirectResponse:
    return RedirectResponse(root(request) + path, status_code=303)


def done_message(request: Request) -> str | None:
    """The line shown after an action (from the redirect's query; only numbers and
    known words are taken from it)."""
    done = request.query_params.get("done")
    count = request.query_params.get("count", "")
    if done not in ("retry", "delete") or not count.isdigit():
        return None
    verb = "retried" if done == "retry" else "deleted"
    return f"{int(count)} job{'s' if int(count) != 1 else ''} {verb}"
