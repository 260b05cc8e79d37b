"""The dashboard in a real browser (Debian's Chromium driven by Playwright) against the
installed ``runa-runner dashboard``: the overview's counts and their refresh without a
reload, the failed list, a retry that makes the job pending, and a hostile payload that
stays text (no dialog fires). Screenshots go to tests/_output/ (git-ignored).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .conftest import Project
from .dashboard_proc import fail_notes, start_dashboard

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
OUTPUT = Path(__file__).parents[1] / "_output"
HOSTILE = "<img src=x onerror=alert(1)>"
#: Milliseconds a browser wait may take (the overview refreshes every 5 s; the machine
#: may be loaded).
WAIT_MS = 60_000


def _unavailable() -> str | None:
    if not Path(CHROMIUM).exists():
        return f"{CHROMIUM} is missing (apt-get install chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed (pip install -e '.[dev]')"
    return None


@pytest.fixture
def browser_page() -> Iterator[Any]:
    problem = _unavailable()
    if problem is not None:
        if os.environ.get("RUNA_REQUIRE_SERVICES") == "1":
            pytest.fail(f"{problem}; RUNA_REQUIRE_SERVICES=1 makes this a failure")
        pytest.skip(problem)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 720})
            page.set_default_timeout(WAIT_MS)
            yield page
        finally:
            browser.close()


@pytest.mark.timeout(600)  # a browser, a worker burst and a server on a shared machine
def test_overview_failed_list_retry_and_a_hostile_payload(
    project: Project, browser_page: Any,
) -> None:
    from playwright.sync_api import expect

    page = browser_page
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    hostile_id, plain_id = fail_notes(project, HOSTILE, "plain")
    project.push("note.record", {"text": "waiting"})
    _, url = start_dashboard(project, "--listen", "127.0.0.1:0")
    OUTPUT.mkdir(exist_ok=True)

    # The overview: a queue's counts, refreshed in place when they change.
    page.goto(f"{url}/")
    fragile = page.locator('tr[data-queue="fragile"]')
    expect(fragile.locator('[data-field="failed"]')).to_have_text("2")
    main_pending = page.locator('tr[data-queue="main"] [data-field="pending"]')
    expect(main_pending).to_have_text("1")
    page.evaluate("window.notReloaded = true")
    project.push("note.record", {"text": "another"})
    expect(main_pending).to_have_text("2")
    assert page.evaluate("window.notReloaded") is True
    page.screenshot(path=str(OUTPUT / "dashboard-overview.png"), full_page=True)

    # The failed list: the hostile payload is text, not an element.
    fragile.locator('[data-field="failed"] a').click()
    expect(page).to_have_url(re.compile(r"/queues/fragile\?state=failed$"))
    row = page.locator(f'tr[data-id="{hostile_id}"]')
    expect(row.locator("td.payload")).to_contain_text(HOSTILE)
    assert page.locator("main img").count() == 0

    # Its job page, then a retry from the list: the job is pending.
    row.locator("td.id a").click()
    expect(page.locator("#state")).to_have_text("failed")
    expect(page.locator("#payload")).to_contain_text(HOSTILE)
    expect(page.locator("#traceback")).to_contain_text("boom on attempt 3")
    page.screenshot(path=str(OUTPUT / "dashboard-job.png"), full_page=True)
    page.go_back()
    page.locator(f'tr[data-id="{plain_id}"] button', has_text="Retry").click()
    expect(page.locator("p.done")).to_have_text("1 job retried")
    expect(page.locator(f'tr[data-id="{plain_id}"]')).to_have_count(0)
    page.locator("nav.tabs a", has_text="pending").click()
    expect(page.locator(f'tr[data-id="{plain_id}"]')).to_have_count(1)
    page.goto(f"{url}/jobs/{plain_id}")
    expect(page.locator("#state")).to_have_text("pending")

    assert dialogs == []
    assert (OUTPUT / "dashboard-overview.png").stat().st_size > 0
