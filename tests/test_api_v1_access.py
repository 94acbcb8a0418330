"""CORS allow-list and API keys with per-key rate limits: off by default, exact when configured."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from tests.api_corpus import corpus
from tests.indexing import build_index
from web import create_app

APP_ORIGIN = "https://app.example"


@pytest.fixture(scope="module")
def index_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("access")
    build_index(root, corpus(12))
    return root


def client_with(index_dir: Path, **config: Any) -> FlaskClient:
    return create_app({"INDEX_DIR": str(index_dir), "TESTING": True, **config}).test_client()


# --- CORS -----------------------------------------------------------------------------------


def test_cors_is_off_by_default(index_dir: Path) -> None:
    c = client_with(index_dir)
    r = c.get("/api/v1/search", headers={"Origin": APP_ORIGIN})
    assert r.status_code == 200 and "Access-Control-Allow-Origin" not in r.headers
    r = c.options("/api/v1/search", headers={"Origin": APP_ORIGIN,
                                             "Access-Control-Request-Method": "GET"})  # fmt: skip
    assert "Access-Control-Allow-Origin" not in r.headers


def test_cors_allows_listed_origins_only(index_dir: Path) -> None:
    c = client_with(index_dir, CORS_ORIGINS=f"{APP_ORIGIN}, https://other.example")
    for url in ("/api/v1/search?q=oil", "/api/v1/articles/nope", "/feeds/search.atom",
                "/api/search", "/api/v1/export"):
        r = c.get(url, headers={"Origin": APP_ORIGIN})
        assert r.headers["Access-Control-Allow-Origin"] == APP_ORIGIN, url
        assert "Origin" in r.headers["Vary"] and "ETag" in r.headers["Access-Control-Expose-Headers"]
        assert "Access-Control-Allow-Credentials" not in r.headers
    r = c.get("/api/v1/search", headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in r.headers and "Origin" in r.headers["Vary"]
    # Pages are not part of the API.
    assert "Access-Control-Allow-Origin" not in c.get("/search", headers={"Origin": APP_ORIGIN}).headers


def test_cors_preflight(index_dir: Path) -> None:
    c = client_with(index_dir, CORS_ORIGINS=[APP_ORIGIN], API_KEYS={"k": "1/minute"})
    headers = {"Origin": APP_ORIGIN, "Access-Control-Request-Method": "GET",
               "Access-Control-Request-Headers": "X-API-Key"}
    for _ in range(3):  # preflights are never counted against a limit nor need a key
        r = c.options("/api/v1/search", headers=headers)
        assert r.status_code == 200
    assert r.headers["Access-Control-Allow-Origin"] == APP_ORIGIN
    assert "GET" in r.headers["Access-Control-Allow-Methods"]
    assert "X-API-Key" in r.headers["Access-Control-Allow-Headers"]
    assert int(r.headers["Access-Control-Max-Age"]) > 0


def test_cors_wildcard(index_dir: Path) -> None:
    c = client_with(index_dir, CORS_ORIGINS=["*"])
    r = c.get("/api/v1/stats", headers={"Origin": "https://anyone.example"})
    assert r.headers["Access-Control-Allow-Origin"] == "*"


# --- API keys and rate limits ---------------------------------------------------------------


def test_no_limits_without_keys(index_dir: Path) -> None:
    c = client_with(index_dir)
    for _ in range(70):
        r = c.get("/api/v1/health")
    r = c.get("/api/v1/search", headers={"X-API-Key": "whatever"})
    assert r.status_code == 200 and "X-RateLimit-Limit" not in r.headers


def test_keys_get_their_own_limits_and_429_with_retry_after(index_dir: Path) -> None:
    c = client_with(index_dir, CORS_ORIGINS=[APP_ORIGIN],
                    API_KEYS={"small": "3/minute", "big": "100/minute", "free": None},
                    API_ANONYMOUS_LIMIT="2/minute")  # fmt: skip
    small = {"X-API-Key": "small", "Origin": APP_ORIGIN}
    for i in range(3):
        r = c.get("/api/v1/search?q=oil", headers=small)
        assert r.status_code == 200 and r.headers["X-RateLimit-Remaining"] == str(2 - i)
    r = c.get("/api/v1/stats", headers=small)  # one budget across all endpoints
    assert r.status_code == 429 and 0 < int(r.headers["Retry-After"]) <= 60
    body = r.get_json()
    assert body["ok"] is False and body["error"]["code"] == "too_many_requests"
    assert "this API key" in body["error"]["message"]
    assert r.headers["Access-Control-Allow-Origin"] == APP_ORIGIN  # browsers can read the 429
    # Other keys, and Bearer / query-parameter forms, count separately.
    assert c.get("/api/v1/search", headers={"Authorization": "Bearer big"}).status_code == 200
    assert c.get("/feeds/search.atom?api_key=big").status_code == 200
    for _ in range(10):
        assert c.get("/api/v1/search", headers={"X-API-Key": "free"}).status_code == 200
    # Anonymous requests share their own, smaller limit per address.
    assert [c.get("/api/v1/search").status_code for _ in range(3)] == [200, 200, 429]
    # Health, the OpenAPI document and its page are never limited.
    for url in ("/api/v1/health", "/api/health", "/api/v1/openapi.json", "/api/v1/docs"):
        assert c.get(url, headers=small).status_code == 200
    # Pages are not limited either.
    assert c.get("/search?q=oil").status_code == 200


def test_unknown_or_missing_keys(index_dir: Path) -> None:
    c = client_with(index_dir, API_KEYS=["k1"], API_KEY_LIMIT="5/minute")
    r = c.get("/api/v1/search", headers={"X-API-Key": "nope"})
    assert r.status_code == 401 and r.get_json()["error"] == {
        "code": "invalid_api_key", "message": "Unknown API key.", "parameter": "api_key"}
    assert c.get("/api/v1/search", headers={"X-API-Key": "k1"}).headers["X-RateLimit-Limit"] == "5"
    required = client_with(index_dir, API_KEYS={"k1": "5/minute"}, API_REQUIRE_KEY=True)
    r = required.get("/api/v1/export")
    assert r.status_code == 401 and r.get_json()["error"]["code"] == "invalid_api_key"
    assert required.get("/api/v1/export", headers={"X-API-Key": "k1"}).status_code == 200
    assert required.get("/api/v1/health").status_code == 200


def test_keys_from_the_environment(index_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATELINE_API_KEYS", '{"envkey": "1/minute"}')
    monkeypatch.setenv("DATELINE_CORS_ORIGINS", '["https://env.example"]')
    c = client_with(index_dir)
    r = c.get("/api/v1/stats", headers={"X-API-Key": "envkey", "Origin": "https://env.example"})
    assert r.status_code == 200 and r.headers["Access-Control-Allow-Origin"] == "https://env.example"
    assert c.get("/api/v1/stats", headers={"X-API-Key": "envkey"}).status_code == 429
