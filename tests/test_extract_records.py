"""JSON and JSON Lines records, file kinds, and what is refused or skipped."""

from __future__ import annotations

import datetime as dt
import gzip
import itertools
import json
from pathlib import Path
from typing import Any

import pytest

from indexer.extract import KINDS, ExtractionError, Skipped, detect_kind, extract
from search.models import Article

UTC = dt.timezone.utc

RECORD = {
    "id": "x-1",
    "url": "http://abcnews.go.com/Politics/story?id=45310061&utm_source=rss",
    "source": "abcnews.go.com",
    "title": "  Senate  confirms   nominee ",
    "date": "2017-02-07",
    "section": None,
    "author": "By Jane Roe and John Doe",
    "language": "en-US",
    "body": "First paragraph of the story.\n\nSecond paragraph of the story.",
    "extra": {"ignored": True},
}


def jsonl(*records: Any) -> bytes:
    return "\n".join(r if isinstance(r, str) else json.dumps(r) for r in records).encode()


def articles(data: bytes, kind: str = "jsonl", path: str = "file.jsonl") -> list[Article | Skipped]:
    return list(extract(path, data, kind))


def test_collection_keys_map_onto_article() -> None:
    [article] = articles(jsonl(RECORD))
    assert isinstance(article, Article)
    assert article.title == "Senate confirms nominee"
    assert article.source == "ABC News"
    assert article.url == "http://abcnews.go.com/Politics/story?id=45310061"
    assert article.published == dt.datetime(2017, 2, 7, tzinfo=UTC)
    assert article.authors == ("Jane Roe", "John Doe")
    assert article.language == "en"
    assert article.body == "First paragraph of the story.\n\nSecond paragraph of the story."
    assert article.summary == "First paragraph of the story."
    assert article.path == "file.jsonl:1"


def test_aliases() -> None:
    record = {
        "headline": "Budget approved",
        "content": "The council approved the budget.",
        "subtitle": "After a long debate",
        "publish_date": "2024-03-14T10:05:00",
        "authors": ["Jane Roe", "jane roe", "Reporter"],
        "source": "Reuters",
        "category": ["Politics", "Local"],
    }
    [article] = articles(jsonl(record))
    assert isinstance(article, Article)
    assert (article.title, article.summary) == ("Budget approved", "After a long debate")
    assert article.body == "The council approved the budget."
    assert article.published == dt.datetime(2024, 3, 14, 10, 5, tzinfo=UTC)
    assert article.authors == ("Jane Roe",)
    assert (article.source, article.section) == ("Reuters", "Politics")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2024-09-13", dt.datetime(2024, 9, 13, tzinfo=UTC)),
        ("2024-09-13T08:30:00", dt.datetime(2024, 9, 13, 8, 30, tzinfo=UTC)),
        ("2024-09-13T08:30:00Z", dt.datetime(2024, 9, 13, 8, 30, tzinfo=UTC)),
        ("2024-09-13T11:30:00+03:00", dt.datetime(2024, 9, 13, 8, 30, tzinfo=UTC)),
        ("2024-09-13T08:30:00.123+0000", dt.datetime(2024, 9, 13, 8, 30, tzinfo=UTC)),
        ("Fri, 13 Sep 2024 08:30:00 GMT", dt.datetime(2024, 9, 13, 8, 30, tzinfo=UTC)),
        ("September 13,2024", dt.datetime(2024, 9, 13, tzinfo=UTC)),
        (1726216200, dt.datetime(2024, 9, 13, 8, 30, tzinfo=UTC)),
        ("not a date", None),
        ("0001-01-01", None),
    ],
)
def test_dates_are_aware(value: object, expected: dt.datetime | None) -> None:
    [article] = articles(jsonl({"title": "t", "body": "b", "date": value}))
    assert isinstance(article, Article)
    assert article.published == expected
    if article.published is not None:
        assert article.published.tzinfo is not None


def test_bad_records_are_skipped_not_fatal() -> None:
    items = articles(
        jsonl(
            RECORD,
            '{"title": "broken',
            {"id": "no-text", "title": "", "body": "   "},
            ["not", "an", "object"],
            "",
            {"title": "Fine", "text": "Still fine."},
        )
    )
    assert [type(i).__name__ for i in items] == [
        "Article",
        "Skipped",
        "Skipped",
        "Skipped",
        "Article",
    ]
    broken, empty, listed = items[1:4]
    assert broken == Skipped("file.jsonl:2", "invalid JSON: Unterminated string starting at")
    assert empty == Skipped("file.jsonl:3", "record has neither title nor body")
    assert listed == Skipped("file.jsonl:4", "record is not a JSON object")


def test_skip_reasons_do_not_repeat_the_line_number() -> None:
    """Reports group skips by the text before the first ':'; the path names the line."""
    items = articles(jsonl({"title": ""}, "{", {"title": ""}, "[1,"))
    assert all(isinstance(i, Skipped) for i in items)
    reasons = {i.reason.split(":")[0] for i in items if isinstance(i, Skipped)}
    assert reasons == {"record has neither title nor body", "invalid JSON"}
    assert [i.path for i in items] == [f"file.jsonl:{n}" for n in range(1, 5)]


def test_title_only_and_body_only_records() -> None:
    body_only = {
        "body": "FEDERAL RESERVE WEEKLY REPORT - FEB 26\n    Net free reserves 644 vs 1,337"
    }
    title_only = {"title": "Headline without a body"}
    first, second = articles(jsonl(body_only, title_only))
    assert isinstance(first, Article) and first.title == "FEDERAL RESERVE WEEKLY REPORT - FEB 26"
    assert isinstance(second, Article) and (second.title, second.body) == (
        "Headline without a body",
        "",
    )


def test_hard_wrapped_newswire_is_reflowed() -> None:
    body = (
        "Showers continued throughout the week in\nthe Bahia cocoa zone, alleviating the "
        "drought since early\nJanuary and improving prospects for the coming temporao.\n"
        "    The dry period means the temporao will be late this year\nand arrivals were "
        "low for the whole of the week."
    )
    [article] = articles(
        jsonl({"title": "BAHIA COCOA REVIEW", "body": body, "section": "cocoa,grain"})
    )
    assert isinstance(article, Article)
    assert article.body.split("\n\n") == [
        "Showers continued throughout the week in the Bahia cocoa zone, alleviating the drought "
        "since early January and improving prospects for the coming temporao.",
        "The dry period means the temporao will be late this year and arrivals were low for the "
        "whole of the week.",
    ]
    assert article.section == "cocoa"


def test_json_object_and_list_files() -> None:
    [single] = articles(json.dumps(RECORD).encode(), "json", "one.json")
    assert isinstance(single, Article) and single.path == "one.json:1"
    items = articles(json.dumps([RECORD, {"title": ""}, RECORD]).encode(), "json", "many.json")
    assert [type(i).__name__ for i in items] == ["Article", "Skipped", "Article"]
    assert items[1] == Skipped("many.json:2", "record has neither title nor body")
    wrapped = articles(json.dumps({"articles": [RECORD]}).encode(), "json", "w.json")
    assert isinstance(wrapped[0], Article)


def test_ids_are_stable_and_content_hash_follows_content() -> None:
    [a] = articles(jsonl(RECORD))
    [b] = articles(jsonl({**RECORD, "url": RECORD["url"].replace("utm_source=rss", "fbclid=9")}))
    [c] = articles(jsonl({**RECORD, "body": RECORD["body"] + " Corrected."}))
    assert isinstance(a, Article) and isinstance(b, Article) and isinstance(c, Article)
    assert a.id == b.id == c.id
    assert a.content_hash == b.content_hash != c.content_hash
    [d] = articles(jsonl({"title": "No URL", "body": "Text."}))
    [e] = articles(jsonl({"title": "No URL", "body": "Other text."}))
    assert isinstance(d, Article) and isinstance(e, Article) and d.id != e.id


def test_text_is_nfc() -> None:
    decomposed = "Türkiye".replace("ü", "u\u0308")
    [article] = articles(jsonl({"title": decomposed, "body": decomposed + " ve İstanbul."}))
    assert isinstance(article, Article)
    assert article.title == "Türkiye" and article.body.startswith("Türkiye ve")


@pytest.mark.parametrize("kind", KINDS)
def test_empty_and_binary_files_are_refused(kind: str) -> None:
    with pytest.raises(ExtractionError, match="empty"):
        list(extract(f"f.{kind}", b"", kind))
    with pytest.raises(ExtractionError, match="binary"):
        list(extract(f"f.{kind}", b"PK\x03\x04\x00\x00\x08\x00" * 10, kind))


def test_deeply_nested_json_does_not_crash() -> None:
    deep = b"[" * 100_000 + b"]" * 100_000
    with pytest.raises(ExtractionError):
        list(extract("deep.json", deep, "json"))
    items = articles(jsonl({"title": "ok", "body": "fine"}, deep.decode()))
    assert isinstance(items[0], Article)
    assert items[1] == Skipped("file.jsonl:2", "invalid JSON: nested too deeply")
    nested_body = {"title": "t", "body": [[["deep"]], "para"]}
    [article] = articles(jsonl(nested_body))
    assert isinstance(article, Article) and article.body == "para"


def test_unusable_json_files_are_refused() -> None:
    with pytest.raises(ExtractionError, match="invalid JSON"):
        list(extract("f.json", b'{"title": ', "json"))
    with pytest.raises(ExtractionError, match="no records"):
        list(extract("f.json", b"[]", "json"))
    with pytest.raises(ExtractionError, match="unsupported kind"):
        list(extract("f.csv", b"a,b", "csv"))


@pytest.mark.parametrize(
    ("path", "kind"),
    [
        ("a/b/page.html", "html"),
        ("PAGE.HTM.gz", "html"),
        ("dump.txt", "text"),
        ("one.json", "json"),
        ("many.jsonl.gz", "jsonl"),
        ("many.ndjson", "jsonl"),
        ("table.csv", None),
        ("archive.gz", None),
        ("README", None),
    ],
)
def test_detect_kind(path: str, kind: str | None) -> None:
    assert detect_kind(path) == kind


@pytest.mark.parametrize(
    ("name", "sources"),
    [
        (
            "news9",
            {
                "Al Jazeera",
                "TASS",
                "ABC News",
                "RTÉ",
                "HuffPost",
                "DW",
                "China Daily",
                "BBC",
                "CNN",
            },
        ),
        ("reuters21578", {"Reuters"}),
        (
            "saudinewsnet",
            {
                "Asharq Al-Awsat",
                "Al Riyadh",
                "Al Jazirah",
                "Alyaum",
                "Al Eqtisadiah",
                "Okaz",
                "Al Watan",
                "Al Madina",
                "Al Weeam",
                "3alyoum",
                "Sabq",
                "Saudi Press Agency",
                "Arreyadi",
                "Arriyadiyah",
            },
        ),
    ],
)
def test_shared_collections(shared_data: Path, name: str, sources: set[str]) -> None:
    """The first records of each real collection become articles with outlet names."""
    with gzip.open(shared_data / "collections" / f"{name}.jsonl.gz", "rb") as lines:
        head = b"".join(itertools.islice(lines, 600))
    items = articles(head, path=f"{name}.jsonl")
    found = [i for i in items if isinstance(i, Article)]
    assert len(found) >= 590
    dated = [a.published for a in found if a.published is not None]
    assert len(dated) >= len(found) - 2 and all(d.tzinfo is not None for d in dated)
    assert all(a.title and "\n" not in a.title for a in found)
    names = {a.source for a in found}
    assert names and names <= sources
