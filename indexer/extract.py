"""Bytes of one file to articles: the pure core of the indexer.

`extract(path, data, kind)` touches no file, network or index. It refuses what it cannot
use with `ExtractionError` (empty, binary, undecodable, oversized, no text) and, for
record files, reports each bad record as `Skipped` so one bad line never costs the file.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator

from indexer.dates import aware
from indexer.decoding import declared_charset, decode_bytes, has_binary_marks
from indexer.errors import ExtractionError, Skipped
from indexer.fields import to_article
from indexer.html import extract_html
from indexer.records import iter_lines, iter_records
from indexer.textdump import extract_textdump
from search.models import Article

__all__ = [
    "KINDS",
    "MAX_BYTES",
    "ExtractionError",
    "Skipped",
    "detect_kind",
    "extract",
    "extract_lines",
]

KINDS = ("html", "text", "json", "jsonl")

# Largest decompressed input per kind; bigger files are refused, not half-read.
MAX_BYTES = {
    "html": 20 * 1024 * 1024,
    "text": 20 * 1024 * 1024,
    "json": 256 * 1024 * 1024,
    "jsonl": 256 * 1024 * 1024,
}

_EXTENSIONS = {
    ".html": "html",
    ".htm": "html",
    ".txt": "text",
    ".json": "json",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
}


def detect_kind(path: str) -> str | None:
    """Return the kind of a file from its extension (a trailing .gz ignored), or None."""
    name = path.replace("\\", "/").rsplit("/", 1)[-1].lower()
    name = name.removesuffix(".gz")
    dot = name.rfind(".")
    return _EXTENSIONS.get(name[dot:]) if dot > 0 else None


def extract_lines(
    path: str, lines: Iterable[str], *, not_after: dt.datetime | None = None
) -> Iterator[Article | Skipped]:
    """Yield the articles of a JSON Lines file given line by line (already checked as text).

    The same as `extract` of its bytes with kind "jsonl", for a file that is streamed
    instead of read whole (`indexer.sources.open_source`).
    """
    limit = aware(not_after) if not_after else dt.datetime.now(dt.timezone.utc)
    yield from iter_lines(path, lines, not_after=limit)


def extract(
    path: str, data: bytes, kind: str, *, not_after: dt.datetime | None = None
) -> Iterator[Article | Skipped]:
    """Yield the articles in one file's (decompressed) bytes; Skipped for bad records.

    `not_after` is when the file was crawled or saved (default: now); a publication date
    later than that is a parsing error or a scheduled-update stamp, and is not used.
    """
    limit = aware(not_after) if not_after else dt.datetime.now(dt.timezone.utc)
    if kind not in KINDS:
        raise ExtractionError(f"unsupported kind {kind!r}")
    if len(data) > MAX_BYTES[kind]:
        raise ExtractionError(f"file too large ({len(data) // (1024 * 1024)} MB > limit)")
    if not data.strip():
        raise ExtractionError("empty file")
    if has_binary_marks(data):
        raise ExtractionError("binary file (NUL bytes)")
    if kind == "html":
        text = decode_bytes(data, declared_charset(data))
        yield to_article(extract_html(text, limit), path, limit)
    elif kind == "text":
        yield to_article(extract_textdump(decode_bytes(data)), path, limit)
    else:
        yield from iter_records(path, decode_bytes(data), lines=kind == "jsonl", not_after=limit)
