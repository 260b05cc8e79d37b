"""The README's snippet that mounts the dashboard in a Starlette service works as written:
pages, links, assets, login and actions all live under the mount path."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("starlette", reason="the dashboard extra is not installed")
httpx = pytest.importorskip("httpx")

REPO = Path(__file__).resolve().parents[2]
TOKEN = "mount-token"
MANIFEST = """\
drivers:
  local: {type: sqlite, path: q.db}
queues:
  mail: {driver: local, workers: [w]}
workers:
  w: {}
jobs:
  mail.send: {handler: "mount_handlers:send", queue: mail}
"""


def readme_snippet() -> str:
    section = (REPO / "README.md").read_text("utf-8").split("## Dashboard", 1)[1]
    section = section.split("\n## ", 1)[0]
    [code] = [c for c in re.findall(r"```python\n(.*?)```", section, re.S) if "Mount(" in c]
    return code


async def test_the_readme_mount_serves_under_its_prefix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    (tmp_path / "jobs.yaml").write_text(MANIFEST, "utf-8")
    (tmp_path / "mount_handlers.py").write_text("async def send(job):\n    pass\n", "utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("RUNA_DASHBOARD_TOKEN", TOKEN)
    namespace: dict[str, Any] = {}
    exec(compile(readme_snippet(), "README.md", "exec"), namespace)
    registry = namespace["registry"]
    await registry.push("mail.send", None)
    transport = httpx.ASGITransport(app=namespace["app"])
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as c:
            refused = await c.get("/runa/api/queues")
            login = await c.get("/runa/login")
            csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', login.text)
            assert csrf is not None
            logged = await c.post("/runa/login", data={"csrf": csrf.group(1), "token": TOKEN})
            overview = await c.get("/runa/")
            css = await c.get("/runa/static/dashboard.css")
            queues = await c.get("/runa/api/queues")
    finally:
        await registry.close()
    assert refused.status_code == 401
    assert 'action="/runa/login"' in login.text
    assert logged.status_code == 303 and logged.headers["location"] == "/runa/"
    assert "Path=/runa/" in logged.headers["set-cookie"]
    assert overview.status_code == 200
    assert 'href="/runa/queues/mail"' in overview.text
    assert 'href="/runa/static/dashboard.css"' in overview.text
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    assert queues.json()[0]["pending"] == 1
