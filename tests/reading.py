"""Test helper: read served pages like a reader would (BeautifulSoup, the query of a link)."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from bs4 import BeautifulSoup
from flask.testing import FlaskClient


def soup_of(
    client: FlaskClient, url: str, status: int = 200, mimetype: str | None = None
) -> BeautifulSoup:
    """GET `url`, check its status (and media type, when given) and parse it."""
    r = client.get(url)
    assert r.status_code == status, r.data[:500]
    if mimetype is not None:
        assert r.mimetype == mimetype
    return BeautifulSoup(r.data, "html.parser")


def query_of(href: str) -> dict[str, list[str]]:
    """Return a link's query parameters, every value of each."""
    return parse_qs(urlsplit(href).query)
