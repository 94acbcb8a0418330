"""Golden pages: tricky real pages (kept in ../shared/data) and the fields we expect from them.

Each entry of tests/extraction_golden.json names a page of a shared set, says why it is
tricky, and lists only the fields it pins: title, published (ISO 8601 with the page's own
offset), authors, source, language, body_start / body_end, and a body F1 floor against the
set's truth.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from indexer.extract import detect_kind, extract
from indexer.scoring import token_f1
from search.models import Article
from tests.scoring import page_bytes, read_truth

GOLDEN = json.loads(Path(__file__).with_name("extraction_golden.json").read_text("utf-8"))


def _label(entry: dict[str, Any]) -> str:
    return f"{entry['set']}:{entry['id']}"


@pytest.mark.parametrize("entry", GOLDEN["pages"], ids=_label)
def test_golden_page(shared_data: Path, entry: dict[str, Any]) -> None:
    folder = shared_data / entry["set"]
    record = next(r for r in read_truth(folder) if r["id"] == entry["id"])
    kind = detect_kind(record["page"])
    assert kind is not None
    [article] = extract(record["page"], page_bytes(folder, record), kind)
    assert isinstance(article, Article)
    found = {
        "title": article.title,
        "published": article.published.isoformat() if article.published else None,
        "authors": list(article.authors),
        "source": article.source,
        "language": article.language,
        "body_start": article.body[: len(entry["expect"].get("body_start", ""))],
        "body_end": article.body[-len(entry["expect"].get("body_end", "x")) :],
    }
    for field, expected in entry["expect"].items():
        assert found[field] == expected, f"{_label(entry)} ({entry['why']}): {field}"
    if "min_body_f1" in entry:
        assert token_f1(article.body, record["body"]) >= entry["min_body_f1"], entry["why"]
    assert "\ufffd" not in article.body + article.title
