"""Bad input through the whole path (`read_source` then `extract`): refused or handled in
bounded time and memory, with a reason, while the files around it still become articles."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import time
import zlib
from pathlib import Path

import pytest

from indexer.extract import ExtractionError, Skipped, extract
from indexer.sources import MAX_DECOMPRESSED_BYTES, iter_paths, read_source
from search.models import Article

PARAGRAPH = (
    "<p>The council approved the new budget on Tuesday after a debate that lasted most of "
    "the afternoon, with members arguing over how much to spend on roads and schools.</p>\n"
)
GOOD_PAGE = (
    "<html><head><title>Council passes the budget after a long debate</title></head><body>"
    f"<article><h1>Council passes the budget after a long debate</h1>{PARAGRAPH * 4}"
    "</article></body></html>"
)
# Generous bounds: they catch minutes-long or runaway work, not a slow CI machine.
SECONDS = 60


def outcome(path: Path) -> Article | str:
    """Run one file through the indexer's path; return its article or the skip reason."""
    source = read_source(path)
    if isinstance(source, Skipped):
        return source.reason
    try:
        items = list(extract(source.path, source.data, source.kind))
    except ExtractionError as error:
        return error.reason
    assert len(items) == 1
    item = items[0]
    return item if isinstance(item, Article) else item.reason


def timed(path: Path) -> Article | str:
    start = time.monotonic()
    result = outcome(path)
    assert time.monotonic() - start < SECONDS, f"{path.name} took too long"
    return result


def _gzip_stream(path: Path, chunk: bytes, total: int) -> None:
    """Write `total` bytes of repeated `chunk`, gzipped, without holding them in memory."""
    compressor = zlib.compressobj(1, zlib.DEFLATED, 31)  # fast; still over 200:1
    with path.open("wb") as out:
        for _ in range(total // len(chunk)):
            out.write(compressor.compress(chunk))
        out.write(compressor.flush())


def test_empty_and_binary_files_have_reasons(tmp_path: Path) -> None:
    (tmp_path / "empty.html").write_bytes(b"")
    (tmp_path / "blank.txt").write_bytes(b"  \n\n ")
    (tmp_path / "photo.html").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" * 50)
    (tmp_path / "archive.jsonl.gz").write_bytes(gzip.compress(b"PK\x03\x04\x00\x00" * 100))
    (tmp_path / "not-gzip.html.gz").write_bytes(b"<html>plain text, not gzip</html>")
    assert timed(tmp_path / "empty.html") == "empty file"
    assert timed(tmp_path / "blank.txt") == "empty file"
    assert timed(tmp_path / "photo.html") == "binary file (NUL bytes)"
    assert timed(tmp_path / "archive.jsonl.gz") == "binary file (NUL bytes)"
    assert str(timed(tmp_path / "not-gzip.html.gz")).startswith("broken gzip")


def test_truncated_html_still_gives_the_article(tmp_path: Path) -> None:
    cut = GOOD_PAGE[: GOOD_PAGE.rindex("</p>") - 10] + "<div class='x"  # mid-sentence, mid-tag
    (tmp_path / "truncated.html").write_text(cut)
    result = timed(tmp_path / "truncated.html")
    assert isinstance(result, Article)
    assert result.title == "Council passes the budget after a long debate"
    assert result.body.startswith("The council approved")


def test_deeply_nested_tags_are_handled(tmp_path: Path) -> None:
    nested = "<html><body>" + "<div>" * 100_000 + PARAGRAPH * 3 + "</div>" * 100_000
    (tmp_path / "nested.html").write_text(nested + "</body></html>")
    result = timed(tmp_path / "nested.html")
    assert isinstance(result, (Article, str))
    if isinstance(result, str):
        assert result  # refused with a reason, never a crash


def test_a_20_mb_page_is_extracted_in_bounded_time(tmp_path: Path) -> None:
    """Most of a huge page is inline script state; the article is a few hundred KB.

    (libxml2 cuts a single text node over 10 MB, and the page after it; real pages
    spread their state over several scripts.)
    """
    state = ("<script>window.__STATE__ = {" + '"k": "v", ' * 497_500 + "};</script>") * 4
    page = GOOD_PAGE.replace("<article>", state + "<article>" + PARAGRAPH * 2000)
    data = page.encode()
    assert 19 * 1024 * 1024 < len(data) <= 20 * 1024 * 1024
    (tmp_path / "huge.html").write_bytes(data)
    result = timed(tmp_path / "huge.html")
    assert isinstance(result, Article)
    assert result.body.count("The council approved") == 2004
    assert "__STATE__" not in result.body


def test_oversized_pages_and_gzip_bombs_are_refused(tmp_path: Path) -> None:
    _gzip_stream(tmp_path / "big.html.gz", PARAGRAPH.encode(), 30 * 1024 * 1024)
    assert timed(tmp_path / "big.html.gz") == "file too large (29 MB > limit)"
    bomb = tmp_path / "bomb.html.gz"
    _gzip_stream(bomb, b"<p>" + b"a" * (1024 * 1024 - 3), MAX_DECOMPRESSED_BYTES + 2**20)
    assert bomb.stat().st_size < 2 * 1024 * 1024
    reason = timed(bomb)
    assert isinstance(reason, str) and reason.startswith("broken gzip: decompresses to more than")


@pytest.mark.parametrize("name", ["good.html", "also-good.txt"])
def test_bad_files_do_not_stop_the_rest(tmp_path: Path, name: str) -> None:
    (tmp_path / "a-empty.html").write_bytes(b"")
    (tmp_path / "b-binary.html").write_bytes(b"\x00\x01\x02" * 100)
    (tmp_path / "c-unknown.pdf").write_bytes(b"%PDF-1.4")
    good = (
        GOOD_PAGE
        if name.endswith(".html")
        else (
            "Council passes the budget after a long debate\n\n"
            + "The council approved the new budget on Tuesday after a long debate, members said. "
            * 3
        )
    )
    (tmp_path / name).write_text(good)
    results = {path.name: timed(path) for path in iter_paths([tmp_path])}
    assert results["a-empty.html"] == "empty file"
    assert results["b-binary.html"] == "binary file (NUL bytes)"
    assert results["c-unknown.pdf"] == "unsupported file type"
    assert isinstance(results[name], Article)


def test_a_huge_inline_image_does_not_hide_the_article(tmp_path: Path) -> None:
    """A 12 MB data: URI before the article: libxml2 stopped reading at the attribute (its
    10 MB limit on one value), so the article after it was lost."""
    image = b'<img alt="map" src="data:image/png;base64,' + b"QUJD" * 3_000_000 + b'">'
    page = GOOD_PAGE.encode().replace(b"<article>", image + b"<article>")
    (tmp_path / "inline-image.html").write_bytes(page)
    result = timed(tmp_path / "inline-image.html")
    assert isinstance(result, Article)
    assert result.title == "Council passes the budget after a long debate"
    assert result.body.count("The council approved") == 4


# Run in a child so the high-water mark (ru_maxrss) belongs to these documents alone.
_MEMORY_PROBE = """
import json, resource, sys
from indexer.extract import ExtractionError, extract
P, GOOD = sys.argv[1], sys.argv[2]
def peak():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
list(extract("warm.html", GOOD.encode(), "html"))  # imports and models loaded
base = peak()
state = ("<script>window.__STATE__ = {" + '"k": "v", ' * 497_500 + "};</script>") * 4
image = '<img src="data:image/png;base64,' + "QUJD" * 4_900_000 + '">'
words = P.replace("<p>", "").replace("</p>", " ") * 100_000
cases = {
    "scripts": GOOD.replace("<article>", state + "<article>" + P * 2000),
    "inline image": GOOD.replace("<article>", image + "<article>"),
    "one text node": GOOD.replace("<article>", "<article><p>" + words + "</p>"),
    "one-line dump": "Council budget\\n\\n" + words,
}
growth = {}
for name, text in cases.items():
    data = text.encode()
    kind = "text" if name.endswith("dump") else "html"
    try:
        list(extract(name, data[: 20 * 1024 * 1024], kind))
    except ExtractionError:
        pass
    growth[name] = [len(data), peak() - base]
print(json.dumps(growth))
"""
MEMORY_GROWTH_LIMIT = 1024 * 1024 * 1024  # ~50x a 20 MB document: catches blow-ups only


def test_memory_per_document_stays_bounded() -> None:
    """The worst 16-20 MB documents we know raise the process's peak memory by 3-9x their
    size (measured 60-145 MB); the bound is far above that."""
    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": str(root)}
    done = subprocess.run(
        [sys.executable, "-c", _MEMORY_PROBE, PARAGRAPH, GOOD_PAGE],
        cwd=root, env=env, capture_output=True, text=True, timeout=10 * SECONDS, check=True,
    )  # fmt: skip
    growth = json.loads(done.stdout.strip().splitlines()[-1])
    assert set(growth) == {"scripts", "inline image", "one text node", "one-line dump"}
    for name, (size, grown) in growth.items():
        assert size > 15 * 1024 * 1024, name
        assert grown < MEMORY_GROWTH_LIMIT, f"{name}: peak memory grew {grown >> 20} MB"
