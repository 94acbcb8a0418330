"""A generation's stories by document number: the sidecar search collapses with.

A published generation never changes, so its document numbers are stable: the
indexer writes `story_map.json` beside the index after the final commit,
listing each story of two or more versions as its members' document numbers in
time order (the first version first). Articles in no such story are stories of
their own and are not listed, which keeps the file small.

Search reads the map once per generation (`load`, cached by path) and keeps,
of every story, only the earliest version that matches (`collapse`): one pass
over the matching set, no Whoosh `collapse=` (measured 3.6x slower).
"""

from __future__ import annotations

import bisect
import dataclasses
import datetime as dt
import json
import os
import threading
from collections.abc import Iterable, Set
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from whoosh.filedb.filestore import FileStorage
from whoosh.reading import IndexReader
from whoosh.searching import Searcher

from search import docsets
from search.cursor import doc_ids
from search.errors import ArticleNotFound
from search.facets import count_terms
from search.flatpostings import expand_runs
from search.models import Article, Facet, FacetValue, StoryRef
from search.schema import from_stored
from search.stories import StoryIndex

STORY_MAP = "story_map.json"
MAP_VERSION = 1
# Story counts mark (story, value) pairs in a scratch array up to this size (~8 MB of
# bools; a generation with 100k stories and 80 shown values), and sort them beyond it.
_SCRATCH_CELLS = 8_000_000


@dataclass(frozen=True)
class _Story:
    id: str
    docs: tuple[int, ...]  # members in time order
    first_published: str | None
    first_source: str | None


class StoryMap:
    """Stories of one generation, by document number."""

    def __init__(self, stories: Iterable[_Story]) -> None:
        self._stories: list[_Story] = list(stories)
        self._by_id = {s.id: i for i, s in enumerate(self._stories)}
        # docnum -> (story index, rank in time order)
        self._of_doc: dict[int, tuple[int, int]] = {}
        for i, s in enumerate(self._stories):
            for rank, d in enumerate(s.docs):
                self._of_doc[d] = (i, rank)
        self._field_values: dict[str, dict[int, tuple[str, ...]]] = {}  # see `_values_of`
        self._tables: dict[str, tuple[np.ndarray | None, np.ndarray, dict[str, int]]] = {}
        self._by_doc: tuple[np.ndarray, np.ndarray] | None = None  # see `_arrays`
        self._version_docs: tuple[np.ndarray, np.ndarray] | None = None  # see `_versions`
        self._last = threading.local()  # see `_versions_in`

    def __len__(self) -> int:
        return len(self._stories)

    def collapse(self, matched: Set[int]) -> Set[int]:
        """Return `matched` keeping only the earliest matching version of each story."""
        if not matched:
            return docsets.EMPTY
        story_of, rank_of = self._arrays()
        docs = docsets.doc_array(matched)
        inside = docs < len(story_of)
        story: np.ndarray = np.full(len(docs), -1, dtype=np.int64)
        story[inside] = story_of[docs[inside]]
        listed = story >= 0
        alone = docs[~listed]  # in no larger story: a story of its own
        docs, story = docs[listed], story[listed]
        order = np.lexsort((rank_of[docs], story))  # by story, earliest version first
        story = story[order]
        first = np.r_[True, story[1:] != story[:-1]] if len(story) else story.astype(bool)
        return docsets.ArrayDocs(np.sort(np.concatenate((alone, docs[order][first]))))

    def _arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """Return (story index, rank in it) by document number (-1: none), built once."""
        if self._by_doc is None:
            size = max(self._of_doc, default=-1) + 1
            story_of = np.full(size, -1, dtype=np.int64)
            rank_of = np.zeros(size, dtype=np.int64)
            for d, (story, rank) in self._of_doc.items():
                story_of[d] = story
                rank_of[d] = rank
            self._by_doc = (story_of, rank_of)
        return self._by_doc

    def ref(
        self, docnum: int, article_id: str, published: dt.datetime | None, source: str | None
    ) -> StoryRef:
        """Return the story of a hit (a story of its own when it is in no larger one)."""
        where = self._of_doc.get(docnum)
        if where is None:
            return StoryRef(
                id=article_id,
                versions=1,
                first_published=published.isoformat() if published else None,
                first_source=source,
            )
        s = self._stories[where[0]]
        return StoryRef(
            id=s.id,
            versions=len(s.docs),
            first_published=s.first_published,
            first_source=s.first_source,
        )

    def count_stories(self, facet: Facet, docs: Set[int], reader: IndexReader) -> Facet:
        """Return `facet` with each shown value's story count among `docs`.

        A value's stories are its articles minus, for every story, the extra
        versions that have it too; only versions of larger stories can be
        extra, so just those among `docs` are looked at (`_versions_in`, worked
        out once for the five facets of a search), with their values of the
        facet's field read once per generation (`_table`).
        """
        if not facet.values:
            return facet
        found, stories = self._versions_in(docs)
        start, code_of, codes = self._table(reader, facet.name)
        width = len(facet.values)
        column = np.full(len(codes) + 1, -1, dtype=np.int64)  # a code -> its value's column
        for j, v in enumerate(facet.values):
            code = codes.get(v.value)
            if code is not None:
                column[code] = j
        if start is None:  # one value or none per version: code_of is by version (-1: none)
            cols = column[code_of[found]]
        else:  # a version's values are rows start[i]:start[i + 1]
            runs = start[found + 1] - start[found]
            cols = column[code_of[expand_runs(start[found], runs)]]
            stories = np.repeat(stories, runs)
        keep = cols >= 0
        stories, cols = stories[keep], cols[keep]
        # Per value: its versions among `docs`, minus the distinct stories they are in.
        cells = len(self._stories) * width
        if len(cols) * 16 < cells or cells > _SCRATCH_CELLS:
            distinct = np.bincount(np.unique(stories * width + cols) % width, minlength=width)
        else:
            seen = np.zeros(cells, dtype=bool)
            seen[stories * width + cols] = True
            distinct = np.bincount(np.flatnonzero(seen) % width, minlength=width)
        extra = (np.bincount(cols, minlength=width) - distinct).tolist()
        return dataclasses.replace(facet, values=tuple(
            FacetValue(value=v.value, label=v.label, count=v.count, selected=v.selected,
                       stories=v.count - extra[j])
            for j, v in enumerate(facet.values)
        ))

    def _versions_in(self, docs: Set[int]) -> tuple[np.ndarray, np.ndarray]:
        """Return which versions of larger stories are in `docs` (their places in
        `_versions`) and their stories.

        The last set's answer is kept per thread: a search's facets are counted
        over the same set object when no filter narrows them.
        """
        last = getattr(self._last, "entry", None)
        if last is not None and last[0] is docs:
            return last[1]  # type: ignore[no-any-return]
        versions, story_of = self._versions()
        matched = docsets.doc_array(docs)
        inside = np.zeros(int(max(matched.max(initial=-1), versions.max(initial=-1))) + 1,
                          dtype=bool)
        inside[matched] = True
        found = np.flatnonzero(inside[versions])
        answer = (found, story_of[found])
        self._last.entry = (docs, answer)
        return answer

    def _versions(self) -> tuple[np.ndarray, np.ndarray]:
        """Return the document numbers of every version of a larger story, sorted, and
        each one's story."""
        if self._version_docs is None:
            story_of, _rank = self._arrays()
            docs = np.flatnonzero(story_of >= 0)
            self._version_docs = (docs, story_of[docs])
        return self._version_docs

    def _table(self, reader: IndexReader, field: str
               ) -> tuple[np.ndarray | None, np.ndarray, dict[str, int]]:
        """Return the values of `field` of every version of a larger story, as codes,
        and the codes; built once per generation and field.

        With one value or none per version (a column), the codes are by place in
        `_versions` (-1: none) and the first item is None; otherwise version i's
        codes are rows start[i]:start[i + 1], with `start` the first item.
        """
        cached = self._tables.get(field)
        if cached is None:
            values = self._values_of(reader, field)
            codes: dict[str, int] = {}
            per_version = [[codes.setdefault(v, len(codes)) for v in values.get(d, ())]
                           for d in self._versions()[0].tolist()]
            if all(len(c) <= 1 for c in per_version):
                cached = (None, np.array([c[0] if c else -1 for c in per_version],
                                         dtype=np.int64), codes)
            else:
                start = np.zeros(len(per_version) + 1, dtype=np.int64)
                np.cumsum([len(c) for c in per_version], out=start[1:])
                cached = (start, np.array([x for c in per_version for x in c], dtype=np.int64),
                          codes)
            self._tables[field] = cached
        return cached

    def _values_of(self, reader: IndexReader, field: str) -> dict[int, tuple[str, ...]]:
        """Return {docnum: its values of `field`} for the versions of larger stories.

        Read once per field: document numbers and stored values are the same in
        every reader of this generation. Concurrent first calls both read it; the
        results are equal.
        """
        cached = self._field_values.get(field)
        if cached is None:
            if field == "author":  # multi-valued: no column
                cached = {d: tuple(count_terms(reader, field, (d,))) for d in self._of_doc}
            else:
                cached = _column_values(reader, field, self._of_doc)
            self._field_values[field] = cached
        return cached

    def in_story(self, docnum: int) -> bool:
        """Return True when a document is a version of a story of two or more."""
        return docnum in self._of_doc

    def members(self, story_id: str) -> tuple[int, ...] | None:
        """Return the document numbers of a story in time order (None: not a larger story)."""
        i = self._by_id.get(story_id)
        return None if i is None else self._stories[i].docs


EMPTY = StoryMap(())


def _column_values(reader: IndexReader, field: str, docs: Iterable[int]
                   ) -> dict[int, tuple[str, ...]]:
    """Return {docnum: (value,) or ()} for `docs`, read segment by segment.

    Whoosh's multi-segment column reader skips segments without the column and
    then maps later document numbers to the wrong segment (or fails when no
    segment has it), so each segment's own column is read here.
    """
    out: dict[int, tuple[str, ...]] = dict.fromkeys(docs, ())
    wanted = sorted(out)
    for leaf, base in reader.leaf_readers():
        if not leaf.has_column(field):
            continue
        column = leaf.column_reader(field)
        end = base + leaf.doc_count_all()
        for d in wanted[bisect.bisect_left(wanted, base):bisect.bisect_left(wanted, end)]:
            value = column[d - base]
            out[d] = (value,) if value else ()
    return out


def write(path: str | os.PathLike[str], stories: StoryIndex) -> int:
    """Write `path/story_map.json` for the committed index in `path`; return its story count.

    The ids' postings are read in place from the segments' flat postings through the
    memory map (`search.mapped` keeps Whoosh from copying its files); without it, each
    segment's whole flat postings file was read: 500 MB more in the job at 250k articles,
    at its end, when it is largest. The first versions' stored fields, spread over the
    whole stored column, are read without the map, so their pages are not added to the
    job's memory either (~300 MB at 250k).
    """
    path = Path(path)
    ix = FileStorage(str(path)).open_index()
    plain = FileStorage(str(path), supports_mmap=False).open_index()
    with ix.searcher() as s, plain.reader() as stored:
        docnum = {aid: d for d, aid in enumerate(doc_ids(s.reader())) if aid}
        rows: list[list[Any]] = []
        for story_id, members in stories.stories():
            if len(members) < 2:
                continue
            docs = [docnum[m] for m in members]
            first = from_stored(stored.stored_fields(docs[0]))  # same segments, same numbers
            rows.append(
                [
                    story_id,
                    first.published.isoformat() if first.published else None,
                    first.source,
                    docs,
                ]
            )
    rows.sort(key=lambda r: r[3][0])
    text = json.dumps(
        {"version": MAP_VERSION, "doc_count_all": len(docnum), "stories": rows},
        separators=(",", ":"),
    )
    target = path / STORY_MAP
    tmp = target.with_name(STORY_MAP + ".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, target)  # a new file: never one hard-linked from another generation
    return len(rows)


_CACHE: dict[str, StoryMap | None] = {}
_LOCK = threading.Lock()
_KEEP = 4  # generations whose maps stay cached (served, previous, and a spare)


def load(path: str | os.PathLike[str]) -> StoryMap | None:
    """Return the story map of the generation in `path` (None when it has none), cached."""
    key = str(path)
    with _LOCK:
        if key in _CACHE:
            return _CACHE[key]
    smap = _read(Path(path) / STORY_MAP)
    with _LOCK:
        while len(_CACHE) >= _KEEP:
            del _CACHE[next(iter(_CACHE))]
        _CACHE[key] = smap
    return smap


def _read(file: Path) -> StoryMap | None:
    try:
        raw = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None  # no map (an older generation): results are simply not collapsed
    if raw.get("version") != MAP_VERSION:
        return None
    return StoryMap(_Story(r[0], tuple(r[3]), r[1], r[2]) for r in raw["stories"])


def versions(searcher: Searcher, smap: StoryMap | None, story_id: str) -> list[Article]:
    """Return the versions of a story in time order, the first version first.

    An article in no larger story is a story of its own; the id of a later
    version is not a story id (ArticleNotFound), so each story has one address.
    """
    docs = smap.members(story_id) if smap is not None else None
    if docs is not None:
        reader = searcher.reader()
        return [from_stored(reader.stored_fields(d)) for d in docs]
    docnum = searcher.document_number(id=story_id)
    if docnum is None or (smap is not None and smap.in_story(docnum)):
        raise ArticleNotFound(f"No story with id {story_id!r}.")
    return [from_stored(searcher.reader().stored_fields(docnum))]
