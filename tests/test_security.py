"""Security: headers on every response, hostile content rendered inert, safe start checks."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import pytest
from bs4 import BeautifulSoup
from flask import Flask
from flask.testing import FlaskClient

from search.models import Article
from tests.indexing import build_index
from web import create_app
from web.security import HEADERS, UnsafeStart

HOSTILE = [
    Article(
        id="xss1",
        title='Budget <script>alert("t")</script> plan',
        body='The budget <img src=x onerror=alert(1)> was "passed" & signed &amp; sealed.',
        url="javascript:alert(document.cookie)",
        source='<b onmouseover="x()">Evil</b>',
        summary='budget "><svg onload=alert(2)>',
    ),
    Article(
        id="xss2",
        title='Budget "><iframe src=//evil></iframe>',
        body="budget ' onfocus='alert(3)' autofocus=' and &lt;script&gt; entities",
        url='https://example.org/a?x="><script>alert(4)</script>',
        source="BBC",
        authors=('<a href="javascript:alert(5)">x</a>',),
    ),
    Article(
        id="xss3",
        title="Budget data URL",
        body="budget body",
        url="data:text/html,<script>x</script>",
        source="CNN",
    ),
    Article(
        id="xss4",
        title="Budget vbscript",
        body="budget body",
        url=" JavaScript:alert(6)",
        source="CNN",
    ),
]
QUERIES = [
    '"><script>alert(1)</script>',
    "budget <img src=x onerror=alert(1)>",
    "budget' onmouseover='x",
    "budget &amp; <mark>",
    "budget",
]
OUR_TAGS = {"mark"}


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Flask:
    root = tmp_path_factory.mktemp("secix")
    build_index(root, HOSTILE)
    return create_app({"INDEX_DIR": str(root), "TESTING": True})


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


# --- Headers ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "/",
        "/search?q=budget",
        "/article/xss1",
        "/api/search?q=budget",
        "/api/health",
        "/nope",
        "/api/nope",
        "/static/dateline.js",
        "/search?page=0",
    ],
)
def test_security_headers_on_every_response(client: FlaskClient, url: str) -> None:
    r = client.get(url)
    for name, value in HEADERS.items():
        assert r.headers.get(name) == value, (url, name)
    csp = r.headers["Content-Security-Policy"]
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    r.close()  # static files are streamed from an open file


def test_pages_have_no_inline_scripts_or_styles(client: FlaskClient) -> None:
    # The CSP forbids them; a template that grows one would silently break in browsers.
    for url in ("/", "/search?q=budget", "/article/xss1?q=budget", "/nope"):
        soup = BeautifulSoup(client.get(url).data, "html.parser")
        assert not [s for s in soup.find_all("script") if not s.get("src")], url
        assert not soup.find_all("style"), url
        assert not soup.select("[style]"), url
        assert not [t for t in soup.find_all(True) if any(a.startswith("on") for a in t.attrs)], url


# --- Output safety ---------------------------------------------------------------------


def _markup_tags(html: str) -> set[str]:
    """Return the tag names inside an HTML fragment."""
    return {t.name for t in BeautifulSoup(html, "html.parser").find_all(True)}


def _assert_inert_page(html: bytes, template_tags: set[str]) -> BeautifulSoup:
    soup = BeautifulSoup(html, "html.parser")
    for tag in soup.find_all(True):
        assert tag.name not in {"img", "iframe", "svg", "b"} or tag.name in template_tags, tag
        assert not any(a.startswith("on") for a in tag.attrs), tag
        for attr in ("href", "src", "action"):
            value = str(tag.get(attr, "")).strip().lower()
            assert not value.startswith(("javascript:", "data:", "vbscript:")), tag
    scripts = soup.find_all("script")
    assert all(s.get("src", "").startswith("/static/") for s in scripts), scripts
    assert "alert" not in " ".join(s.get_text() for s in scripts)
    return soup


@pytest.mark.parametrize("q", QUERIES)
def test_search_page_has_no_injected_markup(client: FlaskClient, q: str) -> None:
    r = client.get("/search", query_string={"q": q})
    assert r.status_code == 200
    soup = _assert_inert_page(r.data, set())
    for hit in soup.select("ol.results li.hit"):
        title = hit.select_one(".hit-title a")
        assert _markup_tags(title.decode_contents()) <= OUR_TAGS
    if "<script>" in q:
        assert b"&lt;script&gt;" in r.data


@pytest.mark.parametrize("article_id", ["xss1", "xss2", "xss3", "xss4"])
@pytest.mark.parametrize("q", ["", QUERIES[0], "budget"])
def test_article_page_has_no_injected_markup(client: FlaskClient, article_id: str, q: str) -> None:
    r = client.get(f"/article/{article_id}", query_string={"q": q} if q else None)
    assert r.status_code == 200
    soup = _assert_inert_page(r.data, set())
    assert b"&lt;script&gt;" in r.data or article_id in ("xss3", "xss4")
    links = [a["href"] for a in soup.select("a[href]")]
    assert all(h.startswith(("/", "http://", "https://", "#", "?")) for h in links), links


def test_javascript_url_is_not_a_link(client: FlaskClient) -> None:
    soup = BeautifulSoup(client.get("/search?q=budget").data, "html.parser")
    assert not soup.select('a[href^="javascript"]') and not soup.select('a[href^="data"]')
    soup = BeautifulSoup(client.get("/article/xss1").data, "html.parser")
    assert "javascript:" not in " ".join(a["href"] for a in soup.select("a[href]")).lower()


def test_existing_entities_are_escaped_once_more(client: FlaskClient) -> None:
    # "&amp;" in the text is shown as the five characters "&amp;", not as "&".
    soup = BeautifulSoup(client.get("/article/xss1").data, "html.parser")
    assert "&amp; sealed" in soup.get_text()


@pytest.mark.parametrize("q", QUERIES)
def test_json_html_fields_hold_only_mark(client: FlaskClient, q: str) -> None:
    for url in ("/api/search", "/api/v1/search"):
        r = client.get(url, query_string={"q": q})
        assert r.status_code == 200, r.data[:300]
        body = r.get_json()
        hits = body.get("hits") or body.get("data", {}).get("hits") or []
        for hit in hits:
            for field in ("title_highlighted", "snippet"):
                assert _markup_tags(hit[field]) <= OUR_TAGS, (url, field, hit[field])
        assert r.mimetype == "application/json"


# --- Article routes never read paths ---------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "../etc/passwd",
        "..%2f..%2fetc%2fpasswd",
        "%2e%2e%2f%2e%2e%2fetc%2fpasswd",
        "xss1%00",
        "%00",
        "/etc/passwd",
        "..\\..\\windows",
        "xss1%5c..",
        "%2fetc%2fpasswd",
        "xss1/..",
        "..",
        ".",
        "%2e%2e",
        "a" * 65,
        "xss1%0a",
    ],
)
@pytest.mark.parametrize("prefix", ["/article/", "/api/articles/"])
def test_article_path_tricks_are_404(client: FlaskClient, prefix: str, path: str) -> None:
    r = client.get(prefix + path)
    assert r.status_code == 404, (prefix + path, r.status_code)
    assert b"root:" not in r.data and b"Traceback" not in r.data


# --- Unexpected errors -----------------------------------------------------------------


def test_unexpected_error_is_500_without_traceback(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    build_index(tmp_path, HOSTILE[:1])
    app = create_app({"INDEX_DIR": str(tmp_path), "TESTING": False})

    def boom() -> str:
        raise RuntimeError("secret detail /etc/shadow")

    app.add_url_rule("/boom", "boom", boom)
    app.add_url_rule("/api/boom", "api_boom", boom)
    client = app.test_client()
    with caplog.at_level(logging.ERROR, logger="web.errors"):
        page = client.get("/boom")
        api = client.get("/api/boom")
    assert page.status_code == api.status_code == 500
    for r in (page, api):
        assert b"Traceback" not in r.data and b"secret detail" not in r.data
        assert r.headers["X-Content-Type-Options"] == "nosniff"
    err = api.get_json()["error"]
    assert err["code"] == "internal_error"
    request_id = err["message"].split("request id ")[1].rstrip(").")
    logged = [rec for rec in caplog.records if request_id in rec.getMessage()]
    assert logged and logged[0].exc_info is not None  # the traceback goes to the log only
    assert b"request id" in page.data


# --- Start checks ----------------------------------------------------------------------


def test_debug_is_refused_outside_testing(tmp_path: Path) -> None:
    with pytest.raises(UnsafeStart, match="DEBUG"):
        create_app({"INDEX_DIR": str(tmp_path), "DEBUG": True})
    create_app({"INDEX_DIR": str(tmp_path), "DEBUG": True, "TESTING": True})
    create_app({"INDEX_DIR": str(tmp_path), "DEBUG": True, "DEV": True})


def test_debug_from_environment_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATELINE_DEBUG", "true")
    with pytest.raises(UnsafeStart):
        create_app({"INDEX_DIR": str(tmp_path)})


def test_app_sets_no_cookies(client: FlaskClient) -> None:
    # Why no SECRET_KEY is required: nothing uses sessions or cookies.
    for url in ("/", "/search?q=budget", "/article/xss1", "/api/search?q=budget", "/nope"):
        assert "Set-Cookie" not in client.get(url).headers


def test_pytest_tmp_index_passes_the_permission_check(tmp_path: Path) -> None:
    build_index(tmp_path, HOSTILE[:1])
    create_app({"INDEX_DIR": str(tmp_path)})  # no exception


@pytest.mark.parametrize("target", ["root", "generations", "generation", "segment", "CURRENT"])
def test_group_writable_index_is_refused(tmp_path: Path, target: str) -> None:
    loc = build_index(tmp_path, HOSTILE[:1])
    gen = loc.current().path
    path = {
        "root": tmp_path,
        "generations": tmp_path / "generations",
        "generation": gen,
        "segment": next(gen.glob("*.seg")),
        "CURRENT": tmp_path / "CURRENT",
    }[target]
    path.chmod(path.stat().st_mode | 0o020)
    with pytest.raises(UnsafeStart, match="writable by group or others"):
        create_app({"INDEX_DIR": str(tmp_path)})
    create_app({"INDEX_DIR": str(tmp_path), "INDEX_PERMISSION_CHECK": False})


def test_world_writable_toc_is_refused(tmp_path: Path) -> None:
    loc = build_index(tmp_path, HOSTILE[:1])
    toc = next(loc.current().path.glob("_*.toc"))
    toc.chmod(0o666)
    with pytest.raises(UnsafeStart, match=r"\.toc"):
        create_app({"INDEX_DIR": str(tmp_path)})


@pytest.mark.skipif(os.geteuid() != 0, reason="changing a file's owner needs root")
def test_index_owned_by_someone_else_is_refused(tmp_path: Path) -> None:
    loc = build_index(tmp_path, HOSTILE[:1])
    toc = next(loc.current().path.glob("_*.toc"))
    os.chown(toc, 54321, 54321)
    with pytest.raises(UnsafeStart, match="owned by uid 54321"):
        create_app({"INDEX_DIR": str(tmp_path)})


def test_missing_index_dir_starts(tmp_path: Path) -> None:
    client = create_app({"INDEX_DIR": str(tmp_path / "none")}).test_client()
    r = client.get("/api/health")
    assert r.status_code == 503 and json.loads(r.data)["status"] == "degraded"
