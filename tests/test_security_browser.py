"""The page works in Chromium under the real Content-Security-Policy (nothing bypassed)."""

from __future__ import annotations

import re
from typing import Any

from tests.test_browser import WAIT_MS, browser, index_dir, server  # noqa: F401 (fixtures)


def test_page_works_under_csp_without_violations(browser: Any, server: str) -> None:  # noqa: F811
    context = browser.new_context(base_url=server)
    context.set_default_timeout(WAIT_MS)
    pg = context.new_page()
    console: list[str] = []
    errors: list[str] = []
    pg.on("console", lambda m: console.append(m.text))
    pg.on("pageerror", lambda e: errors.append(str(e)))
    response = pg.goto("/search")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    pg.locator("#q").press_sequentially("trump", delay=40)  # needs dateline.js to run
    pg.wait_for_url(re.compile(r"q=trump"))
    pg.locator("ol.results mark").first.wait_for()
    pg.locator("ol.results .hit-title a").first.click()
    pg.wait_for_url(re.compile(r"/article/"))
    context.close()
    violations = [m for m in console if "Content Security Policy" in m]
    assert not violations and not errors, (violations, errors)
