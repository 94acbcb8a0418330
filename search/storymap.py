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
from search.models import Article, Facet, StoryRef
from search.schema import from_stored
from search.stories import StoryIndex

STORY_MAP = "story_map.json"
MAP_VERSION = 1


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
        self._tables: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray, dict[str, int]]] = {}
        self._by_doc: tuple[np.ndarray, np.ndarray] | None = None  # see `_arrays`

    def __len__(self) -> int:
        return len(self._stories)

    def collapse(self, matched: Set[int]) -> set[int]:
        """Return `matched` keeping only the earliest matching version of each story."""
        if not matched:
            return set()
        story_of, rank_of = self._arrays()
        docs = docsets.doc_array(matched)
        inside = docs < len(story_of)
        story: np.ndarray = np.full(len(docs), -1, dtype=np.int64)
        story[inside] = story_of[docs[inside]]
        listed = story >= 0
        kept = set(docs[~listed].tolist())  # in no larger story: a story of its own
        docs, story = docs[listed], story[listed]
        order = np.lexsort((rank_of[docs], story))  # by story, earliest version first
        story = story[order]
        first = np.r_[True, story[1:] != story[:-1]] if len(story) else story.astype(bool)
        kept.update(docs[order][first].tolist())
        return kept

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
        extra, so just those among `docs` are looked at, with their values of
        the facet's field read once per generation (`_values_of`).
        """
        if not facet.values:
            return facet
        docs_of, story_of, code_of, codes = self._table(reader, facet.name)
        shown = np.zeros(len(codes) + 1, dtype=bool)
        for v in facet.values:
            if v.value in codes:
                shown[codes[v.value]] = True
        matched = docsets.doc_array(docs)
        inside = np.zeros(int(max(matched.max(initial=-1), docs_of.max(initial=-1))) + 1,
                          dtype=bool)
        inside[matched] = True
        keep = inside[docs_of] & shown[code_of]
        stories, found = story_of[keep], code_of[keep]
        width = len(codes) + 1
        # Per value: its versions among `docs`, minus the distinct stories they are in.
        extra = np.bincount(found, minlength=width) - np.bincount(
            np.unique(stories * width + found) % width, minlength=width)
        return dataclasses.replace(facet, values=tuple(
            dataclasses.replace(v, stories=v.count - int(extra[codes[v.value]])
                                if v.value in codes else v.count)
            for v in facet.values
        ))

    def _table(self, reader: IndexReader, field: str
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict[str, int]]:
        """Return one row per (version of a larger story, its value of `field`): document,
        story and value code arrays, and the codes; built once per generation and field."""
        cached = self._tables.get(field)
        if cached is None:
            values = self._values_of(reader, field)
            codes: dict[str, int] = {}
            rows = [(d, self._of_doc[d][0], codes.setdefault(v, len(codes)))
                    for d, vs in values.items() for v in vs]
            table = np.array(rows, dtype=np.int64).reshape(-1, 3)
            cached = (table[:, 0].copy(), table[:, 1].copy(), table[:, 2].copy(), codes)
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

    The index is opened without mmap: a memory-mapped Whoosh reader copies every
    segment's postings into memory (1.4 GB at 56k articles in 16 segments), which
    this never reads.
    """
    path = Path(path)
    ix = FileStorage(str(path), supports_mmap=False).open_index()
    with ix.searcher() as s:
        reader = s.reader()
        docnum = {aid: d for d, aid in enumerate(doc_ids(reader)) if aid}
        rows: list[list[Any]] = []
        for story_id, members in stories.stories():
            if len(members) < 2:
                continue
            docs = [docnum[m] for m in members]
            first = from_stored(reader.stored_fields(docs[0]))
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
