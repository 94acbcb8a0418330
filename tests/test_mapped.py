"""Segment files read in place from the memory map (search/mapped.py): nothing copied
at open, reads equal to BytesIO's, and the same search results as with the copy."""

from __future__ import annotations

import io
import mmap
import random
import re
from array import array
from pathlib import Path

import pytest
from whoosh.filedb import compound, structfile

from search import engine
from search.index import IndexLocation, open_whoosh
from search.mapped import MappedFile, MappedReader
from search.models import SearchRequest
from tests.indexing import build_index
from tests.test_lexicon import _real_articles


def _ops(rng: random.Random, size: int) -> list[tuple[str, int, int]]:
    kinds = ["read", "read", "readline", "seek", "tell"]
    return [(rng.choice(kinds), rng.randint(-2, size + 8), rng.choice([0, 1, 2])) for _ in range(300)]


def _apply(f: object, op: tuple[str, int, int]) -> object:
    kind, n, whence = op
    if kind == "read":
        return f.read(n if n != -2 else None)  # type: ignore[attr-defined]
    if kind == "readline":
        return f.readline(n if n >= 0 else -1)  # type: ignore[attr-defined]
    if kind == "seek":
        pos = n if whence == 0 else (n // 4 - 2 if whence == 1 else -(n % 7))
        try:
            return f.seek(max(pos, 0) if whence == 0 else pos, whence)  # type: ignore[attr-defined]
        except ValueError as e:
            return type(e)
    return f.tell()  # type: ignore[attr-defined]


@pytest.mark.parametrize("seed", range(6))
def test_reader_reads_as_bytesio_does(seed: int, tmp_path: Path) -> None:
    rng = random.Random(seed)
    data = bytes(rng.choice(b"ab\ncd\x00\n") for _ in range(rng.randint(0, 400)))
    path = tmp_path / "f"
    path.write_bytes(data or b"\0")
    with open(path, "rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mm:
        for buf in (data, bytearray(data), memoryview(mm)[: len(data)]):
            ours, theirs = MappedReader(buf), io.BytesIO(data)
            for op in _ops(rng, len(data)):
                assert _apply(ours, op) == _apply(theirs, op), op
            del ours
        if isinstance(buf, memoryview):
            buf.release()


def test_readline_finds_lines_longer_than_its_pieces() -> None:
    data = b"x" * 1000 + b"\n" + b"y" * 300 + b"\n" + b"z" * 5000
    ours, theirs = MappedReader(memoryview(data)), io.BytesIO(data)
    for size in (-1, 700, -1, 2000, -1, -1):
        assert ours.readline(size) == theirs.readline(size)
        assert ours.tell() == theirs.tell()


def test_mapped_file_serves_structfile_reads() -> None:
    """The sequential reads Whoosh's readers use: numbers, varints, pickles, arrays."""
    out = io.BytesIO()
    w = structfile.StructFile(out)
    w.write_int(-7)
    w.write_varint(300)
    w.write_pickle({"a": [1, 2, 3]})
    w.write_array(array("I", [5, 6, 7]))
    w.write_string(b"tail")
    data = out.getvalue()
    f = MappedFile(memoryview(data))
    assert f.read_int() == -7
    assert f.read_varint() == 300
    assert f.read_pickle() == {"a": [1, 2, 3]}
    assert list(f.read_array("I", 3)) == [5, 6, 7]
    assert f.read_string() == b"tail"
    assert f.get(0, 4) == data[:4] and f.get_int(0) == -7
    f.close()
    assert f.is_closed


@pytest.fixture(scope="module")
def real_index(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> IndexLocation:
    return build_index(tmp_path_factory.mktemp("mapped"), _real_articles(shared_data, 100),
                       as_jobs=True)


def test_opening_a_searcher_copies_no_segment_file(real_index: IndexLocation,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """Whoosh's BufferFile copied each opened file of a segment into a BytesIO: the
    postings and term index of every segment, in every reader (search/mapped.py)."""
    copied: list[int] = []
    real = structfile.BytesIO

    def counting(initial: bytes = b"") -> io.BytesIO:
        copied.append(len(initial))
        return real(initial)

    monkeypatch.setattr(structfile, "BytesIO", counting)
    ix = open_whoosh(real_index.current())
    with ix.searcher() as s:
        assert engine.search(s, SearchRequest(q="oil prices")).total > 0
    assert sum(copied) == 0, f"copied {sum(copied):,} bytes into BytesIO"
    ix.close()


def _results(loc: IndexLocation, queries: list[str]) -> list[str]:
    out = []
    with open_whoosh(loc.current()).searcher() as s:
        for q in queries:
            for page in (1, 2):
                r = engine.search(s, SearchRequest(q=q, page=page, page_size=5))
                out.append(re.sub(r"took_ms=[0-9.e+-]+", "", repr(r)))
    return out


def test_results_equal_those_read_through_the_copy(real_index: IndexLocation,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    queries = ["oil prices", '"interest rates"', "bank OR trade", "السعودية", "rate*",
               "source:reuters21578 dollar", "prices -oil"]
    mapped = _results(real_index, queries)
    monkeypatch.setattr(compound, "BufferFile", structfile.BufferFile)
    assert _results(real_index, queries) == mapped
    assert any("total=0" not in r for r in mapped)


def test_install_is_in_effect() -> None:
    assert compound.BufferFile is MappedFile
