"""Keyset ("search after") paging: one total order of hits, and opaque cursors into it.

Every hit has a sort key, and hits are returned in ascending key order:

- `newest`: dated articles first, newest first, then undated; ties by article id.
- `oldest`: dated articles first, oldest first, then undated; ties by article id.
- `relevance`: highest score first; ties by article id.
- `recent`: the same with scores boosted by recency (search/ranking.py).

The article id (unique, and the same in every generation built from the same
files) breaks ties, so the order is total and does not depend on document
numbers. A cursor carries the key of the last hit it saw, the generation that
answered and a fingerprint of the query, filters and sort; the next page holds
the hits whose key comes after it. Under a new generation, paging continues
from that key: for the date sorts every article present in both generations,
with the same publication time, is returned exactly once (articles added with
a key before the cursor are not, deleted ones are gone). Relevance scores
depend on the whole index, so after a new generation they are recomputed and
an article whose score moved across the cursor can be skipped or repeated; the
API says so (`generation_changed`) and a client that needs an exact walk
restarts or uses a date sort.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import hashlib
import json
import math
import threading
import weakref
from collections.abc import Callable, Sequence, Set
from dataclasses import dataclass
from typing import Any

import numpy as np
from whoosh.reading import IndexReader
from whoosh.searching import Searcher

from search import flatpostings
from search.docsets import doc_array
from search.errors import QueryError
from search.models import SearchRequest, SortPosition

CURSOR_VERSION = 1
UNDATED = 2**63  # sorts after every dated key, whatever the direction

# A sort key: (date key, article id) for the date sorts, (-score, article id) for relevance.
Key = tuple[Any, str]


@dataclass(frozen=True)
class Cursor:
    """Where a walk through the hits of one search stopped, and in which generation."""

    position: SortPosition
    generation: str
    fingerprint: str

    def encode(self) -> str:
        """Return the cursor as an opaque, URL-safe string (base64url of compact JSON)."""
        p = self.position
        body = {"v": CURSOR_VERSION, "s": p.sort, "k": list(p.key), "n": p.seen,
                "g": self.generation, "f": self.fingerprint}  # fmt: skip
        raw = json.dumps(body, separators=(",", ":"), ensure_ascii=True).encode("ascii")
        return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def _bad(why: str) -> QueryError:
    return QueryError(f"cursor is not valid ({why}); start again without it.", parameter="cursor")


def decode(text: str) -> Cursor:
    """Parse a cursor string; raise QueryError naming `cursor` when it is malformed."""
    text = text.strip()
    if not text or len(text) > 1000:
        raise _bad("empty or too long")
    try:
        body = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
    except (binascii.Error, ValueError):
        raise _bad("not a cursor") from None
    if not isinstance(body, dict) or body.get("v") != CURSOR_VERSION:
        raise _bad("unknown version")
    sort, key, seen, gen, fp = (body.get(k) for k in ("s", "k", "n", "g", "f"))
    if not (isinstance(gen, str) and isinstance(fp, str) and isinstance(sort, str)):
        raise _bad("missing fields")
    if not (isinstance(seen, int) and not isinstance(seen, bool) and seen >= 0):
        raise _bad("bad position")
    if not (isinstance(key, list) and len(key) == 2 and isinstance(key[1], str)):
        raise _bad("bad sort key")
    first = key[0]
    if isinstance(first, bool) or not isinstance(first, (int, float)):
        raise _bad("bad sort key")
    if sort in ("relevance", "recent"):  # both keyed by (-score, id)
        ok = math.isfinite(first)
    else:
        ok = sort in ("newest", "oldest") and isinstance(first, int) and abs(first) <= UNDATED
    if not ok:
        raise _bad("bad sort key")
    return Cursor(SortPosition(sort=sort, key=(first, key[1]), seen=seen), gen, fp)


def fingerprint(req: SearchRequest) -> str:
    """Return a short digest of what selects and orders the hits (not the page)."""
    what = {"q": req.q, "filters": dataclasses.asdict(req.filters), "sort": req.sort,
            "lang": getattr(req, "lang", None)}
    # Collapsing by story changes which hits exist; the half-life changes the "recent" order.
    what["collapse"] = req.collapse
    if req.sort == "recent":
        what["half_life_days"] = req.half_life_days
    text = json.dumps(what, sort_keys=True, default=str, ensure_ascii=True)
    return hashlib.sha256(text.encode("ascii")).hexdigest()[:16]


# --- Per-reader tables, read once (the columns whole, the ids from the term index) -------

_IDS: weakref.WeakKeyDictionary[IndexReader, list[str]] = weakref.WeakKeyDictionary()
_DATE_KEYS: weakref.WeakKeyDictionary[IndexReader, dict[str, list[int]]] = (
    weakref.WeakKeyDictionary()
)
_DATE_ARRAYS: weakref.WeakKeyDictionary[IndexReader, dict[str, np.ndarray]] = (
    weakref.WeakKeyDictionary()
)
_INT64_MAX = 2**63 - 1
_LOCK = threading.Lock()


def doc_ids(reader: IndexReader) -> list[str]:
    """Return each document number's article id ("" for deleted documents).

    Built from the unique `id` field's term index, not the stored fields: a
    term in one live document records that document's number in its term
    info, so no posting list or stored document is read for it.
    """
    with _LOCK:
        cached = _IDS.get(reader)
    if cached is not None:
        return cached
    ids = [""] * reader.doc_count_all()
    for leaf, base in reader.leaf_readers():
        deleted = leaf.is_deleted if leaf.has_deletions() else None
        flat = flatpostings.for_segment(leaf)
        # The segment's flat postings hold each id's first document and count as arrays
        # (~50 ms for 57k ids, where Whoosh's term table took ~1.5 s); else Whoosh's.
        if flat.complete:
            terms, docs, counts = flat.field_terms("id")
            found: Any = zip(terms, docs.tolist(), counts.tolist(), strict=True)
        else:
            found = ((raw, info.min_id(), info.doc_frequency())
                     for raw, info in leaf.iter_field("id"))
        for raw, doc, count in found:
            text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
            if count == 1 and doc is not None and (deleted is None or not deleted(doc)):
                ids[base + doc] = text
                continue
            # Rare: an id also in a deleted document of this segment.
            for doc in leaf.postings("id", raw).all_ids():
                if deleted is None or not deleted(doc):
                    ids[base + doc] = text
    with _LOCK:
        _IDS[reader] = ids
    return ids


def date_keys(reader: IndexReader, sort: str) -> list[int]:
    """Return each document's date sort key for `sort` ("newest" or "oldest")."""
    with _LOCK:
        cached = _DATE_KEYS.get(reader, {}).get(sort)
    if cached is not None:
        return cached
    has_date = list(reader.column_reader("has_date"))
    pub_ts = list(reader.column_reader("pub_ts"))
    sign = -1 if sort == "newest" else 1
    keys = [sign * ts if dated else UNDATED for dated, ts in zip(has_date, pub_ts, strict=True)]
    with _LOCK:
        _DATE_KEYS.setdefault(reader, {})[sort] = keys
    return keys


# --- Selecting a page ----------------------------------------------------------------------


@dataclass(frozen=True)
class Page:
    """Document numbers of one page, in order, with their scores and keys."""

    docs: tuple[int, ...]
    scores: tuple[float | None, ...]
    keys: tuple[Key, ...]
    more: bool  # hits follow the last one


def _key_array(reader: IndexReader, sort: str) -> np.ndarray:
    """Return `date_keys` as int64 (UNDATED clipped to the largest int64: still after all)."""
    with _LOCK:
        cached = _DATE_ARRAYS.get(reader, {}).get(sort)
    if cached is not None:
        return cached
    arr = np.array([min(k, _INT64_MAX) for k in date_keys(reader, sort)], dtype=np.int64)
    with _LOCK:
        _DATE_ARRAYS.setdefault(reader, {})[sort] = arr
    return arr


def date_page(reader: IndexReader, matched: Set[int], sort: str, *, after: Key | None,
              offset: int, size: int) -> Page:
    """Return the page of `matched` after key `after` (or at `offset`) in a date order.

    The keys of every match are compared as one array; only the documents whose key
    can reach the page (the smallest `offset + size`, with their ties) are sorted
    by (key, id) in Python.
    """
    keys, ids = date_keys(reader, sort), doc_ids(reader)
    docs = doc_array(matched)
    karr = _key_array(reader, sort)[docs]
    if after is not None:
        ak, aid = after
        keep = karr >= min(ak, _INT64_MAX)
        docs, karr = docs[keep], karr[keep]
        tied = np.flatnonzero(karr == min(ak, _INT64_MAX))
        if len(tied):  # same key as the cursor: only ids after it
            drop = [i for i in tied.tolist()
                    if not (keys[int(docs[i])] > ak or ids[int(docs[i])] > aid)]
            if drop:
                docs, karr = np.delete(docs, drop), np.delete(karr, drop)
    want = offset + size
    if len(docs) > want:
        kth = np.partition(karr, want - 1)[want - 1]
        near = docs[karr <= kth].tolist()
    else:
        near = docs.tolist()
    top = sorted(near, key=lambda d: (keys[d], ids[d]))[offset:want]
    return Page(
        docs=tuple(top),
        scores=(None,) * len(top),
        keys=tuple((keys[d], ids[d]) for d in top),
        more=len(docs) > want,
    )


def relevance_page(
    searcher: Searcher,
    run: Callable[[int], Sequence[tuple[float, int]]],
    *,
    after: Key | None,
    offset: int,
    size: int,
    hint: int = 0,
) -> Page:
    """Return a page in relevance order from `run(limit)`, Whoosh's top (score, docnum) pairs.

    Whoosh breaks score ties by document number; ours are broken by article id.
    So the top list is widened until every hit of the page scores strictly
    more than the lowest score fetched (or the list holds every match):
    then no unfetched document can belong on the page.
    """
    ids = doc_ids(searcher.reader())
    want = offset + size
    limit = max(want, hint + size) + 1
    while True:
        pairs = run(limit)
        complete = len(pairs) < limit
        floor = pairs[-1][0] if pairs else 0.0
        keyed = sorted(((-score, ids[d]), d, score) for score, d in pairs)
        if after is not None:
            keyed = [k for k in keyed if k[0] > after]
        if complete or (len(keyed) >= want and -keyed[want - 1][0][0] > floor):
            page = keyed[offset:want]
            more = len(keyed) > want or not complete
            return Page(
                docs=tuple(d for _, d, _ in page),
                scores=tuple(s for _, _, s in page),
                keys=tuple(k for k, _, _ in page),
                more=more,
            )
        limit *= 4
