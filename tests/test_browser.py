"""The search page in a real browser: Debian's Chromium driven by Playwright, against gunicorn.

The test session builds a small index from real articles (the seed page dump, a spread of
news9 records and some fundus-dev pages from ../shared/data, for authors and languages),
serves it with gunicorn on a free loopback port, and drives the pages as a person would:
typing, clicking facets and timeline bars, paging, reading an article, keyboard only, without
JavaScript. axe-core checks accessibility; screenshots at 1280 and 360 px wide are kept in
artifacts/screenshots/ for people to look at.

Needs /usr/bin/chromium (or $DATELINE_CHROMIUM) and axe-core from `make browser-deps`;
skips with the reason when either is missing, and fails instead when CI is set.
"""

from __future__ import annotations

import gzip
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bench.proc import stop

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = os.environ.get("DATELINE_CHROMIUM", "/usr/bin/chromium")
AXE = ROOT / "tests" / "browser" / "node_modules" / "axe-core" / "axe.min.js"
SCREENSHOTS = ROOT / "artifacts" / "screenshots"
LAUNCH_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
NEWS9_EVERY = 9  # every 9th of 3,824 records: ~425 articles over all outlets and months
FUNDUS_PAGES = 30
WAIT_MS = 10_000


def _unavailable(reason: str) -> None:
    """Skip, or fail when CI is set: CI must run the browser tests."""
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI is set, so this is an error; run `make browser-deps`)")
    pytest.skip(f"{reason}; run `make browser-deps` (root) to install it")


# --- the server ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def index_dir(tmp_path_factory: pytest.TempPathFactory, shared_data: Path) -> Path:
    """Build an index of real articles with the indexer's own command."""
    tmp = tmp_path_factory.mktemp("browser")
    sample = tmp / "news9-sample.jsonl"
    with (
        gzip.open(shared_data / "collections" / "news9.jsonl.gz", "rt", encoding="utf-8") as src,
        open(sample, "w", encoding="utf-8") as out,
    ):
        for i, line in enumerate(src):
            if i % NEWS9_EVERY == 0:
                out.write(line)
    fundus = tmp / "fundus"
    fundus.mkdir()
    for page in sorted((shared_data / "extraction" / "fundus-dev" / "pages").glob("*.html.gz"))[
        :FUNDUS_PAGES
    ]:
        shutil.copy(page, fundus / page.name)
    ix = tmp / "index"
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "indexer",
            "build",
            str(ROOT / "corpus" / "articles"),
            str(sample),
            str(fundus),
            "--index",
            str(ix),
            "--no-progress",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    return ix


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def server(index_dir: Path) -> Iterator[str]:
    """Serve the index with gunicorn, as in production, on a free loopback port."""
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    env = dict(os.environ, DATELINE_INDEX_DIR=str(index_dir))
    log = open(index_dir.parent / "gunicorn.log", "w+b")  # closed in `finally` below
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "--workers",
            "2",
            "--threads",
            "4",
            "--bind",
            f"127.0.0.1:{port}",
            "web:create_app()",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"{base}/api/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                log.seek(0)
                pytest.fail(f"gunicorn did not start: {log.read()[-2000:]!r}")
            time.sleep(0.2)
        yield base
    finally:
        stop(proc, timeout=10)
        log.close()


# --- the browser --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        _unavailable(f"Chromium not found at {CHROMIUM}")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("the playwright package is not installed")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser: Any, server: str) -> Iterator[Any]:
    # bypass_csp: Playwright's string predicates (eval) and axe's inline script tag are the
    # test's own code; tests/test_security_browser.py checks the page under the real CSP.
    context = browser.new_context(base_url=server, viewport={"width": 1280, "height": 900},
                                  bypass_csp=True)
    context.set_default_timeout(WAIT_MS)
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    yield pg
    context.close()
    assert not errors, f"JavaScript errors: {errors}"


def total(pg: Any) -> int:
    text = pg.locator("#result-count").inner_text()
    return int(re.match(r"([\d,]+) article", text).group(1).replace(",", ""))


# --- what a person does -------------------------------------------------------------------------


def test_search_as_you_type_shows_highlighted_results(page: Any) -> None:
    page.goto("/search")
    browse_total = total(page)
    page.locator("#q").press_sequentially("trump", delay=40)
    page.wait_for_url(re.compile(r"q=trump"))
    page.locator("ol.results mark").first.wait_for()
    assert page.locator("ol.results mark").first.inner_text().lower() == "trump"
    assert 0 < total(page) < browse_total
    assert page.locator("#q").evaluate("el => el === document.activeElement")  # still typing
    page.wait_for_function("document.getElementById('announce').textContent.includes('trump')")
    # Back returns to the page before the search.
    page.go_back()
    page.wait_for_function(
        f"document.getElementById('result-count').innerText.startsWith('{browse_total:,}')"
    )


def test_facet_paging_timeline_and_article(page: Any) -> None:
    page.goto("/search?q=president")
    facet = page.locator("ul[data-facet=source] a").first
    source, count = facet.get_attribute("data-value"), int(facet.locator(".count").inner_text())
    facet.click()
    page.wait_for_url(re.compile(r"source="))
    assert total(page) == count
    assert page.locator("ul.chips a.chip").first.inner_text().startswith(f"Source: {source}")
    # Page forward.
    first_page = page.locator("ol.results .hit-title a").all_inner_texts()
    page.locator("nav.pages a[rel=next]").click()
    page.wait_for_url(re.compile(r"page=2"))
    assert page.locator("ol.results").get_attribute("start") == "11"
    assert page.locator("ol.results .hit-title a").all_inner_texts() != first_page
    # A timeline bar narrows to its period; its tooltip said how many articles.
    bar = page.locator("figure.timeline a.bar").first
    said = int(re.search(r": ([\d,]+) articles?", bar.locator("title").text_content()).group(1))
    bar.click()
    page.wait_for_url(re.compile(r"from=\d{4}-\d\d-\d\d&to=|to=.*from="))
    assert total(page) == said
    # Open an article: matched words highlighted, similar articles offered.
    page.locator("ol.results .hit-title a").first.click()
    page.wait_for_url(re.compile(r"/article/"))
    assert page.locator("article .body mark, article h1 mark").count() > 0
    assert page.locator("section.related li a").count() == 5


def test_facet_filter_box_filters_as_you_type(page: Any) -> None:
    page.goto("/search")
    before = page.locator("ul[data-facet=source] li").count()
    page.locator("#source-prefix").press_sequentially("d", delay=40)
    page.wait_for_url(re.compile(r"source_prefix=d"))
    page.wait_for_function(
        f"document.querySelectorAll('ul[data-facet=source] li').length < {before}"
    )
    labels = page.locator("ul[data-facet=source] .facet-label").all_inner_texts()
    assert labels and all(any(w.lower().startswith("d") for w in label.split()) for label in labels)
    assert page.evaluate("document.activeElement.id") == "source-prefix"  # focus stays in the box


def test_keyboard_only(page: Any) -> None:
    page.goto("/search?q=election")
    page.keyboard.press("/")
    assert page.evaluate("document.activeElement.id") == "q"
    page.keyboard.press("Escape")
    page.keyboard.press("j")
    first = page.evaluate("document.activeElement.closest('li.hit') !== null")
    assert first and page.locator("li.hit.is-current").count() == 1
    titles = page.locator("ol.results .hit-title a").all_inner_texts()
    page.keyboard.press("j")
    assert page.evaluate("document.activeElement.innerText") == titles[1]
    page.keyboard.press("k")
    assert page.evaluate("document.activeElement.innerText") == titles[0]
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/article/"))
    # Timeline bars and facets are reachable with Tab alone.
    page.goto("/search?q=election")
    seen = set()
    for _ in range(80):
        page.keyboard.press("Tab")
        cls = page.evaluate(
            "(document.activeElement.getAttribute('class') || '') + '|' + "
            "(document.activeElement.closest('[data-facet]') ? 'facet' : '')"
        )
        seen.add(cls)
        if cls.startswith("bar|"):
            break
    else:
        pytest.fail(f"no timeline bar reached with Tab; focused: {seen}")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"from="))


def test_pages_work_without_javascript(browser: Any, server: str) -> None:
    context = browser.new_context(base_url=server, java_script_enabled=False, bypass_csp=True)
    pg = context.new_page()
    pg.goto("/")
    pg.locator("#q-home").fill("security council")
    pg.keyboard.press("Enter")
    pg.wait_for_url(re.compile(r"/search\?q=security"))
    assert pg.locator("ol.results li.hit").count() > 0
    pg.locator("ul[data-facet=source] a").first.click()
    pg.wait_for_url(re.compile(r"source="))
    assert pg.locator("ul.chips a.chip").count() == 1
    pg.locator("ul.chips a.chip").first.click()
    pg.wait_for_url(lambda url: "source=" not in url)
    context.close()


def _axe(pg: Any) -> list[dict[str, Any]]:
    pg.add_script_tag(path=str(AXE))
    result = pg.evaluate("""async () => {
        const r = await axe.run(document, {resultTypes: ['violations']});
        return {rules: r.passes.length + r.violations.length + r.incomplete.length,
                violations: r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                                       nodes: v.nodes.slice(0, 5).map(n => n.target.join(' '))}))};
    }""")
    assert result["rules"] > 20, "axe-core ran no rules"  # it really checked the page
    return list(result["violations"])


def test_axe_finds_no_serious_violations(browser: Any, server: str) -> None:
    if not AXE.exists():
        _unavailable(f"axe-core not found at {AXE}")
    report: dict[str, Any] = {}
    for width in (1280, 360):
        context = browser.new_context(base_url=server, viewport={"width": width, "height": 900},
                                  bypass_csp=True)
        pg = context.new_page()
        pg.goto("/search?q=president")
        article = pg.locator("ol.results .hit-title a").first.get_attribute("href")
        for url in (
            "/",
            "/search?q=president&timeline=share",
            "/search?q=presidnet",
            "/search?language=de&more=source",
            article,
            "/article/nope",
        ):
            pg.goto(url)
            report[f"{width} {url}"] = _axe(pg)
        context.close()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    (SCREENSHOTS.parent / "axe.json").write_text(json.dumps(report, indent=2), encoding="utf-8")
    serious = {
        page: [v for v in vs if v["impact"] in ("serious", "critical")]
        for page, vs in report.items()
    }
    assert not any(serious.values()), json.dumps(serious, indent=2)


@pytest.mark.parametrize("width", [1280, 360])
def test_screenshots_and_layout(browser: Any, server: str, width: int) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(base_url=server, viewport={"width": width, "height": 900},
                                  bypass_csp=True)
    pg = context.new_page()
    shots = {
        "home": "/",
        "search": "/search?q=trump+OR+merkel",
        "filtered": "/search?q=president&source=CNN&source=BBC&timeline=share",
        "did-you-mean": "/search?q=presidnet+trump",
    }
    for name, url in shots.items():
        pg.goto(url)
        pg.screenshot(path=str(SCREENSHOTS / f"{name}-{width}.png"), full_page=name != "search")
        if width == 360:
            pg.screenshot(path=str(SCREENSHOTS / f"{name}-{width}-top.png"))
        overflow = pg.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{url} scrolls sideways by {overflow}px at {width}px"
    pg.goto(shots["search"])
    pg.locator("ol.results .hit-title a").first.click()
    pg.wait_for_url(re.compile(r"/article/"))
    pg.screenshot(path=str(SCREENSHOTS / f"article-{width}.png"), full_page=True)
    pg.emulate_media(media="print")
    pg.goto(shots["search"])
    assert not pg.locator("section.facets").is_visible()  # the print style drops the controls
    pg.screenshot(path=str(SCREENSHOTS / f"print-{width}.png"))
    context.close()
