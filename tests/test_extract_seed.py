"""The seed article (an Anadolu Agency page dump) must come out exactly as a reader sees it."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from indexer.extract import extract
from search.models import Article


@pytest.fixture(scope="module")
def seed(shared_data: Path) -> Article:
    path = shared_data / "seed" / "anadolu-2024-09-13.txt"
    items = list(extract(str(path), path.read_bytes(), "text"))
    assert len(items) == 1
    assert isinstance(items[0], Article)
    return items[0]


def test_title(seed: Article) -> None:
    assert seed.title == (
        "Türkiye's intelligence chief, Hamas political bureau leaders discuss "
        "Gaza cease-fire in Ankara"
    )


def test_summary_is_the_standfirst(seed: Article) -> None:
    assert seed.summary.startswith("The meeting between İbrahim Kalın, head of Türkiye's")
    assert seed.summary.endswith("according to security sources.")
    assert "\n" not in seed.summary


def test_source_and_section(seed: Article) -> None:
    assert seed.source == "Anadolu Agency"
    assert seed.section == "Middle East"


def test_language_is_detected_from_the_text(seed: Article) -> None:
    assert seed.language == "en"  # a dump declares none


def test_published_date_is_aware(seed: Article) -> None:
    assert seed.published is not None
    assert seed.published.tzinfo is not None
    assert seed.published.date() == dt.date(2024, 9, 13)
    assert seed.published.utcoffset() == dt.timedelta(0)


def test_body(seed: Article) -> None:
    assert seed.body.startswith("Türkiye's National Intelligence Organization (MIT) chief")
    assert seed.body.endswith("at the International Court of Justice.")
    for junk in ("Contact Us", "Subscribe", "(File Photo)", "Published", "Anadolu Agency"):
        assert junk not in seed.body
    assert seed.summary not in seed.body
    paragraphs = seed.body.split("\n\n")
    assert len(paragraphs) == 14
    assert all(p.strip() == p and "\n" not in p for p in paragraphs)


def test_identity(seed: Article, shared_data: Path) -> None:
    path = shared_data / "seed" / "anadolu-2024-09-13.txt"
    assert seed.path == str(path)
    assert len(seed.id) == 16 and int(seed.id, 16) >= 0
    assert len(seed.content_hash) == 40
    again = next(extract("elsewhere.txt", path.read_bytes(), "text"))
    assert isinstance(again, Article)
    assert (again.id, again.content_hash) == (seed.id, seed.content_hash)
