"""Bounded memory in an index build: streamed JSON Lines, bounded caches, fingerprints in workers."""

from __future__ import annotations

import gzip
import json
import zlib
from pathlib import Path

import pytest
from whoosh import index as whoosh_index

from indexer import changes, jobs, sources
from indexer.changes import source_items
from indexer.extract import ExtractionError, Skipped, extract
from indexer.pipeline import ParallelWriter, WriterOptions
from indexer.sources import LineSource, SourceFile, open_source, read_source
from search import fingerprint as fp_module
from search.analysis import term_for
from search.fingerprint import DEFAULT_SCHEME, fingerprint
from search.index import IndexLocation
from search.models import Article
from search.schema import build_schema, to_document
from search.stories import StoryIndex
from tests.jobfixtures import collection_lines


def _records(n: int, start: int = 0) -> list[str]:
    return [
        json.dumps(
            {
                "id": f"r{i}",
                "url": f"https://example.com/news/{i}",
                "title": f"Council budget vote number {i}",
                "body": f"The council voted on budget item {i} after a long debate.\n\n"
                "Members argued over roads, schools and the harbour until late.",
                "date": "2017-02-11T10:00:00Z",
                "source": "Example News",
                "language": "en",
            },
            ensure_ascii=i % 2 == 0,  # half the lines with raw UTF-8 (none here is non-ASCII)
        )
        for i in range(start, start + n)
    ]


def _whole_file_items(path: Path) -> list[Article | Skipped] | str:
    """What the indexer made of a file before streaming: read whole, then extract."""
    src = read_source(path)
    if isinstance(src, Skipped):
        return src.reason
    try:
        return list(extract(src.path, src.data, src.kind))
    except ExtractionError as e:
        return e.reason


def _streamed_items(path: Path) -> list[Article | Skipped] | str:
    src = open_source(path)
    if isinstance(src, Skipped):
        return src.reason
    try:
        return list(source_items(src))
    except ExtractionError as e:
        return e.reason


@pytest.fixture(params=[7, 64, 1 << 20], ids=["7B-chunks", "64B-chunks", "1MB-chunks"])
def chunk(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> int:
    """Tiny chunks put gzip member boundaries, padding and lines across reads."""
    monkeypatch.setattr(sources, "CHUNK_BYTES", request.param)
    return int(request.param)


def test_streamed_gzip_gives_the_documents_of_the_whole_file(tmp_path: Path, chunk: int) -> None:
    lines = _records(40)
    text = "\n".join(lines[:10]) + "\r\n" + "\r\n".join(lines[10:20]) + "\n\n  \n"
    text += "{not json}\n" + "\n".join(lines[20:])  # no newline at the end
    raw = text.encode()
    cut = len(raw) // 3
    # Two members with zero padding between them (`gzip -c new >> old.gz` and some tools).
    path = tmp_path / "archive.jsonl.gz"
    path.write_bytes(gzip.compress(raw[:cut]) + b"\0" * 300 + gzip.compress(raw[cut:]))
    src = open_source(path)
    assert isinstance(src, LineSource)
    assert src.sha1 == read_source(path).sha1  # type: ignore[union-attr]
    streamed, whole = _streamed_items(path), _whole_file_items(path)
    assert streamed == whole
    assert sum(isinstance(a, Article) for a in streamed) == 40
    assert [s.path for s in streamed if isinstance(s, Skipped)] == [f"{path}:23"]


def test_plain_jsonl_is_streamed_too(tmp_path: Path, chunk: int) -> None:
    path = tmp_path / "plain.jsonl"
    path.write_text("\n".join(_records(12)) + "\n", encoding="utf-8")
    assert isinstance(open_source(path), LineSource)
    assert _streamed_items(path) == _whole_file_items(path)


def test_files_that_cannot_be_streamed_are_read_whole_as_before(tmp_path: Path) -> None:
    good = "\n".join(_records(3)).encode()
    arabic = '{"title": "عنوان الخبر", "body": "نص الخبر الكامل هنا"}\n'.encode("cp1256")
    cases = {
        "truncated.jsonl.gz": gzip.compress(good)[:-20],
        "not-gzip.jsonl.gz": b"plain bytes",
        "empty.jsonl": b"",
        "blank.jsonl.gz": gzip.compress(b"  \n\n"),
        "binary.jsonl.gz": gzip.compress(b"PK\x03\x04\x00\x00" * 100),
        "bom.jsonl": b"\xef\xbb\xbf" + good,
        "legacy.jsonl": arabic,
        "zlib.jsonl.gz": zlib.compress(good),  # a zlib header is accepted like gzip
    }
    for name, data in cases.items():
        (tmp_path / name).write_bytes(data)
    for name in cases:
        path = tmp_path / name
        assert _streamed_items(path) == _whole_file_items(path), name
    assert str(_streamed_items(tmp_path / "truncated.jsonl.gz")).startswith("broken gzip")
    assert isinstance(open_source(tmp_path / "legacy.jsonl"), SourceFile)
    assert isinstance(open_source(tmp_path / "zlib.jsonl.gz"), LineSource)


def test_a_gzip_bomb_is_refused_while_streaming(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sources, "MAX_DECOMPRESSED_BYTES", 1 << 16)
    path = tmp_path / "bomb.jsonl.gz"
    path.write_bytes(gzip.compress(b" " * (1 << 20)))
    got = open_source(path)
    assert isinstance(got, Skipped) and got.reason.startswith("broken gzip: decompresses to more")


# --- caches -------------------------------------------------------------------------------


def test_fingerprint_memo_stays_bounded_and_leaves_the_query_cache_alone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    table = fp_module._TermHashes(3)
    tokens = fp_module._TokenTerms()
    monkeypatch.setattr(fp_module, "_TABLES", {3: table})
    monkeypatch.setattr(fp_module, "_TOKEN_TERMS", tokens)
    monkeypatch.setattr(fp_module._TermHashes, "LIMIT", 50)
    monkeypatch.setattr(fp_module._TokenTerms, "LIMIT", 50)
    before = term_for.cache_info().currsize
    text = " ".join(f"zqxword{i} budget{i}" for i in range(400))
    small = fingerprint(text)
    assert 0 < len(table) <= 50 and 0 < len(tokens) <= 50
    assert term_for.cache_info().currsize == before  # not kept a second time
    monkeypatch.setattr(fp_module._TermHashes, "LIMIT", 1 << 18)
    monkeypatch.setattr(fp_module._TokenTerms, "LIMIT", 1 << 18)
    monkeypatch.setattr(fp_module, "_TABLES", {})
    monkeypatch.setattr(fp_module, "_TOKEN_TERMS", fp_module._TokenTerms())
    assert fingerprint(text) == small  # clearing the memo never changes a fingerprint


# --- fingerprints computed by the index workers ------------------------------------------------


def test_workers_fingerprint_bodies_as_the_job_would(tmp_path: Path) -> None:
    ix = whoosh_index.create_in(str(tmp_path), build_schema())
    options = WriterOptions(workers=2, batch_docs=3, min_bytes=0, fingerprints=DEFAULT_SCHEME)
    writer = ParallelWriter(ix, options)
    articles = [
        Article(id="en", title="Budget", body="The council passed the budget on Tuesday."),
        Article(
            id="de", title="Haushalt", body="Der Rat hat den Haushalt beschlossen.", language="de"
        ),
        Article(id="ar", title="ميزانية", body="أقر المجلس الميزانية يوم الثلاثاء", language="ar"),
        Article(id="empty", title="Nothing", body=""),
    ] + [Article(id=f"n{i}", title=f"t{i}", body=f"words {i} of story {i % 3}") for i in range(20)]
    for a in articles:
        writer.add_document(**to_document(a))
    writer.commit()
    assert writer.fingerprints == {a.id: fingerprint(a.body) for a in articles}
    assert sum(s.docs for s in writer.stats) == len(articles)
    assert len(writer.stats) == 2 and sum(s.segments for s in writer.stats) >= 1


def test_stories_from_worker_fingerprints_equal_the_in_process_ones(
    tmp_path: Path, shared_data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    src = tmp_path / "src"
    src.mkdir()
    # news9 and saudinewsnet carry reprints; duplicated lines make sure of some stories.
    for name in ("news9", "saudinewsnet", "reuters21578"):
        lines = collection_lines(shared_data, name, 120)
        (src / f"{name}.jsonl.gz").write_bytes(gzip.compress("".join(lines).encode()))
    copy = [json.loads(x) for x in collection_lines(shared_data, "news9", 30)]
    for rec in copy:
        rec["id"], rec["url"] = rec["id"] + "-copy", (rec.get("url") or "") + "?copy"
        rec["source"] = "Copy Desk"
    (src / "copies.jsonl").write_text("\n".join(json.dumps(r) for r in copy))
    monkeypatch.setattr(jobs, "REBUILD_WRITER", WriterOptions(workers=0))
    single = jobs.rebuild([src], tmp_path / "one")
    monkeypatch.setattr(jobs, "REBUILD_WRITER", WriterOptions(workers=2, batch_docs=5, min_bytes=0))

    def not_in_the_job(*args: object) -> None:
        raise AssertionError("the job process fingerprinted a body its workers fingerprint")

    monkeypatch.setattr(changes, "fingerprint", not_in_the_job)
    multi = jobs.rebuild([src], tmp_path / "two")
    assert multi.doc_count == single.doc_count > 350

    def stories(index_dir: Path) -> dict[str, str]:
        gen = IndexLocation(index_dir).current()
        return StoryIndex.load(gen.path, jobs.STORY_PARAMS).assignments()

    one, two = stories(tmp_path / "one"), stories(tmp_path / "two")
    assert one == two
    assert len(set(one.values())) < len(one)  # some articles do share a story
