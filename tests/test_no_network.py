"""The indexer never follows a URL by itself: it reads files, and pages name URLs only as data.

Every way out of the machine (name lookups, TCP/UDP connects, datagrams) is replaced by
a trap that writes down who called it and then fails. The trap writes to a file, so an
attempt made in a forked worker, or swallowed by a library that catches its own errors
(htmldate's downloader does), is still seen. The builds below index the demo article,
real pages from ../shared/data and pages made to tempt a fetcher.
"""

from __future__ import annotations

import gzip
import json
import socket
import traceback
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import htmldate
import pytest

from indexer import jobs
from indexer.extract import ExtractionError, extract

ROOT = Path(__file__).resolve().parents[1]
TARGET = "http://127.0.0.1:9/dateline-must-not-fetch"  # discard port: nothing listens
PAGES_PER_SET = 8
PARAGRAPH = (
    "<p>The council approved the new budget on Tuesday after a debate that lasted most of "
    "the afternoon, with members arguing over how much to spend on roads and schools.</p>"
)
# Pages that name URLs everywhere a fetcher might look: redirects, canonical and base
# links, images, frames, feeds, scripts, JSON-LD, and a "page" that is only a URL.
TEMPTING = {
    "only-a-url.html": TARGET,
    "only-a-url.txt": TARGET,
    "refresh.html": (
        f'<html><head><meta http-equiv="refresh" content="0; url={TARGET}">'
        f'<link rel="canonical" href="{TARGET}/canonical"><base href="{TARGET}/base/">'
        f'<link rel="alternate" type="application/rss+xml" href="{TARGET}/feed.xml">'
        f'<meta property="og:url" content="{TARGET}/og"><title>Council budget</title>'
        f'<script src="{TARGET}/app.js"></script>'
        '<script type="application/ld+json">'
        + json.dumps({"@type": "NewsArticle", "url": TARGET, "image": TARGET + "/i.jpg",
                      "mainEntityOfPage": {"@id": TARGET}, "headline": "Council budget"})
        + "</script></head><body><article><h1>Council budget</h1>"
        f'<img src="{TARGET}/a.jpg" srcset="{TARGET}/b.jpg 2x"><iframe src="{TARGET}/f">'
        f'</iframe><a href="{TARGET}/more">more</a>{PARAGRAPH * 3}</article></body></html>'
    ),
    "records.jsonl": "\n".join(
        json.dumps({"url": TARGET + f"/{i}", "title": f"Budget {i}", "link": TARGET,
                    "body": f"Read the whole story at {TARGET}/{i} today."})
        for i in range(3)
    ),
}  # fmt: skip


@pytest.fixture
def network_trap(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Make every network call fail; return the file where attempts are written down."""
    attempts = tmp_path / "network-attempts.log"

    def record(what: str, args: tuple[Any, ...]) -> None:
        with attempts.open("a", encoding="utf-8") as f:
            f.write(f"{what}{args!r}\n{''.join(traceback.format_stack(limit=12))}\n")

    def trap(what: str) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            record(what, args)
            raise OSError(f"network access during a test: {what}")

        return call

    for name in ("getaddrinfo", "gethostbyname", "gethostbyname_ex", "create_connection"):
        monkeypatch.setattr(socket, name, trap(name))
    for name in ("connect", "connect_ex", "sendto"):
        original = getattr(socket.socket, name)

        def method(
            self: socket.socket, *args: Any, _name: str = name, _original: Any = original
        ) -> Any:
            if self.family in (socket.AF_INET, socket.AF_INET6):
                record(f"socket.{_name}", args)
                raise OSError(f"network access during a test: socket.{_name}")
            return _original(self, *args)  # local (AF_UNIX) sockets stay usable

        monkeypatch.setattr(socket.socket, name, method)
    return attempts


def _attempts(log: Path) -> str:
    return log.read_text(encoding="utf-8") if log.exists() else ""


def test_the_trap_sees_direct_and_swallowed_fetches(network_trap: Path) -> None:
    """The trap works: a plain fetch and htmldate's self-catching downloader are both seen."""
    with pytest.raises(OSError):
        urllib.request.urlopen(TARGET, timeout=1)
    assert "getaddrinfo" in _attempts(network_trap) or "connect" in _attempts(network_trap)
    network_trap.unlink()
    # htmldate downloads a str that starts with "http" and has no space, and swallows the
    # failure; that is how a page holding only a URL made the indexer fetch it.
    with pytest.raises(ValueError):
        htmldate.find_date(TARGET)
    assert _attempts(network_trap)


@pytest.mark.parametrize("name", sorted(TEMPTING))
def test_extracting_a_tempting_page_fetches_nothing(name: str, network_trap: Path) -> None:
    kind = {"html": "html", "txt": "text", "jsonl": "jsonl"}[name.rsplit(".", 1)[1]]
    try:
        items = list(extract(name, TEMPTING[name].encode(), kind))
    except ExtractionError:
        items = []
    assert _attempts(network_trap) == ""
    if name == "refresh.html":
        assert items and "council approved" in getattr(items[0], "body", "")


def test_indexing_opens_no_network_socket(
    shared_data: Path, tmp_path: Path, network_trap: Path
) -> None:
    sources = tmp_path / "sources"
    sources.mkdir()
    for name, text in TEMPTING.items():
        (sources / name).write_text(text, encoding="utf-8")
    for pages in sorted((shared_data / "extraction").glob("*/pages")):
        for page in sorted(pages.glob("*.html.gz"))[:PAGES_PER_SET]:
            (sources / f"{pages.parent.name}-{page.name}").symlink_to(page)
    with gzip.open(shared_data / "collections" / "news9.jsonl.gz", "rt", encoding="utf-8") as f:
        lines = [line for _, line in zip(range(20), f, strict=False)]
    (sources / "news9-head.jsonl").write_text("".join(lines), encoding="utf-8")

    report = jobs.rebuild([ROOT / "corpus" / "articles", sources], tmp_path / "index")

    assert report.outcome == "published", report.error
    assert report.doc_count >= 30  # the demo article, most pages, the records
    assert _attempts(network_trap) == "", "the indexer tried to reach the network"
