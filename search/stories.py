"""Stories: groups of near-duplicate articles (one wire story, many reprints).

Which articles form a story is a function of the set of articles alone, never
of the order they were added in, so `rebuild` and any sequence of `update`
jobs over the same sources give the same stories:

1. Two articles are *linked* when their fingerprints share an LSH band bucket
   and their estimated similarity reaches the threshold.
2. Articles are taken in time order, by (undated last, published, id). Each
   one joins the story of the linked earlier *first version* (a story's
   earliest article) it is most similar to (ties: the earliest), or starts a
   story of its own. The story id is the id of its first version.

Step 2 is leader clustering: a version must resemble the first version itself,
so a story cannot snowball through a chain of articles that each resemble only
the previous one (A~B, B~C, C~D with A and D unrelated). An article's story
depends only on the articles before it in time order that it is linked to,
directly or not; so adding or removing one article re-decides only the later
articles of its connected group, which is what `add` and `remove` do.

`StoryIndex` is pure and in memory; `save` and `load` keep it beside a
generation as one binary file (signatures, sizes, dates; links are recomputed
on load, cheaply, from the signatures).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import struct
from array import array
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from itertools import pairwise
from operator import attrgetter
from pathlib import Path

import numpy as np

from search.analysis import ANALYSIS_VERSION
from search.buckets import BandBuckets
from search.fingerprint import (
    DEFAULT_SCHEME,
    FINGERPRINT_VERSION,
    Fingerprint,
    Scheme,
    jaccard,
    overlap_from_jaccard,
)

STORIES_FILE = "stories.bin"
FILE_VERSION = 1
_MAGIC = b"DLSTORY\n"

# (undated, seconds since the epoch, id): the order that decides first versions.
SortKey = tuple[int, int, str]


class StoryFileError(ValueError):
    """A stories file is missing, broken, or was written with other parameters."""


@dataclass(frozen=True)
class StoryParams:
    """How articles are linked: fingerprint scheme, LSH rows per band, similarity.

    `measure` is "overlap" (|A & B| / min(|A|, |B|), so a trimmed reprint still
    matches the full story) or "jaccard". `min_shingles` keeps very short texts
    (a headline-only item, a one-line table) out of stories: too little text
    to tell a reprint from a look-alike. `window_days` links only articles
    published within that many days of each other (when both are dated):
    reprints follow the wire within days, while a daily template (a market
    report, a weather bulletin) repeats the same words with new figures.
    """

    scheme: Scheme = DEFAULT_SCHEME
    rows: int = 2
    max_bands: int = 32  # 0: as many bands as the bins allow
    threshold: float = 0.8
    measure: str = "overlap"
    min_shingles: int = 15
    window_days: int | None = 7

    def __post_init__(self) -> None:
        if not 1 <= self.rows <= self.scheme.bins:
            raise ValueError("rows must be between 1 and the number of bins")
        if not 0.0 < self.threshold <= 1.0:
            raise ValueError("threshold must be in (0, 1]")
        if self.measure not in ("overlap", "jaccard"):
            raise ValueError("measure must be 'overlap' or 'jaccard'")

    @property
    def bands(self) -> int:
        n = self.scheme.bins // self.rows
        return min(n, self.max_bands) if self.max_bands else n

    def to_json(self) -> dict[str, object]:
        d = asdict(self)
        # Fingerprints are made of index terms: new analysis, new fingerprints.
        d["fingerprint_version"] = f"{FINGERPRINT_VERSION}.{ANALYSIS_VERSION}"
        return d


DEFAULT_PARAMS = StoryParams()

# numpy types by item size, for the band widths read as one integer
_BAND_CODES = {4: "<u4", 8: "<u8"}
_MASK64 = (1 << 64) - 1
EXTEND_CHUNK = 16384  # articles bucketed together by `add_many` (~25 MB of temporary arrays)


def sort_key(article_id: str, published: dt.datetime | None) -> SortKey:
    """Return the time-order key of an article (undated articles come last)."""
    if published is None:
        return (1, 0, article_id)
    return (0, int(published.timestamp()), article_id)


@dataclass
class _Entry:
    id: str
    key: SortKey
    fp: Fingerprint
    links: dict[int, float] = field(default_factory=dict)  # slot -> similarity
    leader: int = -1  # slot of the story's first version


class StoryIndex:
    """Near-duplicate stories over a changing set of fingerprinted articles."""

    def __init__(self, params: StoryParams = DEFAULT_PARAMS) -> None:
        self.params = params
        self._entries: list[_Entry | None] = []
        self._slot: dict[str, int] = {}
        self._free: list[int] = []
        self._buckets = BandBuckets(params.bands)
        self._members: dict[int, set[int]] = {}  # leader slot -> member slots (leader too)
        self._latest: SortKey | None = None  # the greatest key ever added, for the fast path
        self._moved: set[str] = set()

    # --- building -------------------------------------------------------------------------

    @classmethod
    def build(
        cls,
        items: Iterable[tuple[str, dt.datetime | None, Fingerprint]],
        params: StoryParams = DEFAULT_PARAMS,
    ) -> StoryIndex:
        """Build from (article id, published, fingerprint) tuples, in any order."""
        index = cls(params)
        index.add_many(items)
        index._moved.clear()
        return index

    def add_many(self, items: Iterable[tuple[str, dt.datetime | None, Fingerprint]]) -> None:
        """Add (or replace) many articles: `add` for each, in time order. When none is
        here yet and all come after every article here (a rebuild, a load), they are
        bucketed and linked together with array operations (`BandBuckets.extend`),
        which gives the same links and stories as adding them one by one."""
        ordered = sorted(((sort_key(aid, published), aid, fp) for aid, published, fp in items),
                         key=lambda it: it[0])
        if not ordered:
            return
        ids = {aid for _, aid, _ in ordered}
        if len(ids) < len(ordered) or not ids.isdisjoint(self._slot) or (
            self._latest is not None and ordered[0][0] <= self._latest
        ):
            for key, aid, fp in ordered:
                self._replace(aid, key, fp)
            return
        self._extend(ordered)

    def add(self, article_id: str, published: dt.datetime | None, fp: Fingerprint) -> str:
        """Add (or replace) an article; return the id of the story it is in now."""
        self._replace(article_id, sort_key(article_id, published), fp)
        return self.story_of(article_id)

    def _replace(self, article_id: str, key: SortKey, fp: Fingerprint) -> None:
        if article_id in self._slot:
            self.remove(article_id)
        self._insert(article_id, key, fp)

    def remove(self, article_id: str) -> None:
        """Remove an article; the later articles linked to it are re-decided."""
        slot = self._slot[article_id]
        entry = self._entry(slot)
        group = self._component(slot)
        group.discard(slot)
        # Its members, if it led a story, are all later and linked to it: in `group`.
        plan = self._plan(group, entry.key)
        self._detach(slot)
        for other in entry.links:
            del self._entry(other).links[slot]
        self._unbucket(slot)
        del self._slot[article_id]
        self._entries[slot] = None
        self._free.append(slot)
        self._moved.discard(article_id)
        self._redo(plan)

    # --- reading --------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._slot)

    def __contains__(self, article_id: object) -> bool:
        return article_id in self._slot

    def story_of(self, article_id: str) -> str:
        """Return the story id (the first version's article id) of an article."""
        return self._entry(self._entry(self._slot[article_id]).leader).id

    def members(self, story_id: str) -> list[str]:
        """Return the articles of a story in time order, the first version first."""
        slot = self._slot.get(story_id)
        if slot is None or slot not in self._members:
            raise KeyError(story_id)
        return self._ordered(self._members[slot])

    def size(self, story_id: str) -> int:
        """Return how many versions a story has (1 for an article on its own)."""
        slot = self._slot.get(story_id)
        if slot is None or slot not in self._members:
            raise KeyError(story_id)
        return len(self._members[slot])

    def story_count(self) -> int:
        """Return how many stories there are (an article on its own is one)."""
        return len(self._members)

    def stories(self) -> Iterator[tuple[str, list[str]]]:
        """Yield (story id, member ids in time order) for every story."""
        for leader, slots in self._members.items():
            story_id = self._entry(leader).id
            # Most are an article on its own: nothing to sort.
            yield story_id, [story_id] if len(slots) == 1 else self._ordered(slots)

    def _ordered(self, slots: Iterable[int]) -> list[str]:
        """The ids of these slots' articles in time order."""
        return [e.id for e in sorted(map(self._entry, slots), key=attrgetter("key"))]

    def assignments(self) -> dict[str, str]:
        """Return {article id: story id} for every article."""
        return {e.id: self._entry(e.leader).id for e in self._entries if e is not None}

    def similarity(self, a: Fingerprint, b: Fingerprint) -> float:
        """Return the similarity the threshold applies to."""
        j = jaccard(a, b)
        if self.params.measure == "jaccard":
            return j
        return overlap_from_jaccard(j, a.size, b.size)

    def pop_moved(self) -> set[str]:
        """Return the ids added or whose story changed since the last call, and forget them.

        An index that stores the story id in each document rewrites these.
        """
        moved, self._moved = self._moved, set()
        return {m for m in moved if m in self._slot}

    # --- persistence ----------------------------------------------------------------------

    def save(self, directory: str | os.PathLike[str]) -> Path:
        """Write the index to `directory/stories.bin` (atomically); return the path."""
        entries = sorted((e for e in self._entries if e is not None), key=lambda e: e.key)
        bins = self.params.scheme.bins
        header = json.dumps(
            {"file_version": FILE_VERSION, "params": self.params.to_json(), "count": len(entries)}
        ).encode()
        if any("\n" in e.id for e in entries):
            raise ValueError("article ids must not contain line breaks")
        ids = "\n".join(e.id for e in entries).encode("utf-8")
        undated = bytes(e.key[0] for e in entries)
        seconds = array("q", (e.key[1] for e in entries))
        sizes = array("I", (e.fp.size for e in entries))
        for e in entries:
            if len(e.fp.signature) != bins or e.fp.signature.itemsize != 4:
                raise ValueError(f"signature of {e.id} has {len(e.fp.signature)} bins")
        path = Path(directory) / STORIES_FILE
        tmp = path.with_name(STORIES_FILE + ".tmp")
        with open(tmp, "wb") as f:
            f.write(_MAGIC)
            for block in (memoryview(b) for b in (header, ids, undated, seconds, sizes)):
                f.write(struct.pack("<Q", block.nbytes))
                f.write(block)
            # The signatures one by one: no copy of them all (128 MB at 250k articles).
            f.write(struct.pack("<Q", 4 * bins * len(entries)))
            for e in entries:
                f.write(e.fp.signature)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        return path

    @classmethod
    def load(
        cls, directory: str | os.PathLike[str], params: StoryParams = DEFAULT_PARAMS
    ) -> StoryIndex:
        """Read `directory/stories.bin`; StoryFileError if missing, broken or other params."""
        path = Path(directory) / STORIES_FILE
        try:
            data = path.read_bytes()
        except OSError as e:
            raise StoryFileError(f"cannot read {path}: {e}") from e
        blocks = _split_blocks(data, path)
        header = json.loads(blocks[0])
        if header.get("file_version") != FILE_VERSION or header.get("params") != params.to_json():
            raise StoryFileError(f"{path} was written with other parameters: rebuild it")
        n = int(header["count"])
        ids = blocks[1].decode("utf-8").split("\n") if n else []
        seconds, sizes, sigs = array("q"), array("I"), array("I")
        try:
            for arr, block in zip((seconds, sizes, sigs), blocks[3:], strict=True):
                arr.frombytes(block)
        except ValueError as e:
            raise StoryFileError(f"{path} is inconsistent: rebuild it") from e
        bins = params.scheme.bins
        if not (
            len(ids) == len(blocks[2]) == len(seconds) == len(sizes) == n and len(sigs) == n * bins
        ):
            raise StoryFileError(f"{path} is inconsistent: rebuild it")
        index = cls(params)
        items = [
            ((blocks[2][i], seconds[i], article_id), article_id,
             Fingerprint(sigs[i * bins : (i + 1) * bins], sizes[i]))
            for i, article_id in enumerate(ids)
        ]
        if any(a[0] >= b[0] for a, b in pairwise(items)):
            raise StoryFileError(f"{path} is not in time order: rebuild it")
        if items:
            index._extend(items)  # saved in time order: all linked at once
        index._moved.clear()
        return index

    # --- internals ------------------------------------------------------------------------

    def _insert(self, article_id: str, key: SortKey, fp: Fingerprint) -> None:
        slot = self._new_slot(_Entry(article_id, key, fp))
        self._moved.add(article_id)
        if fp.size >= self.params.min_shingles:
            self._link(slot)
        if self._latest is None or key > self._latest:
            self._latest = key
            self._assign(slot)  # nothing after it in time order: only it is decided
        else:
            self._redo(self._plan(self._component(slot), key))

    def _extend(self, ordered: list[tuple[SortKey, str, Fingerprint]]) -> None:
        """`_insert` of new articles in time order, all after every article here."""
        slots = [self._new_slot(_Entry(aid, key, fp)) for key, aid, fp in ordered]
        self._moved.update(aid for _, aid, _ in ordered)
        bucketed = [s for s in slots if self._entry(s).fp.size >= self.params.min_shingles]
        for start in range(0, len(bucketed), EXTEND_CHUNK):  # bounded temporary arrays
            part = bucketed[start : start + EXTEND_CHUNK]
            keys = np.stack([self._band_keys(self._entry(s).fp) for s in part])
            for a, b in self._buckets.extend(np.array(part, dtype=np.int32), keys):
                self._link_pair(self._entry(a), a, self._entry(b), b)
        for slot in slots:  # in time order: each sees its earlier first versions decided
            self._assign(slot)
        self._latest = ordered[-1][0]

    def _link_pair(self, entry: _Entry, slot: int, o: _Entry, other: int) -> None:
        """Link two bucketed articles when they are close enough in time and similar enough."""
        window = self.params.window_days
        if (
            window is not None
            and not entry.key[0]
            and not o.key[0]
            and abs(entry.key[1] - o.key[1]) > window * 86400
        ):
            return
        sim = self.similarity(entry.fp, o.fp)
        if sim >= self.params.threshold:
            entry.links[other] = sim
            o.links[slot] = sim

    def _entry(self, slot: int) -> _Entry:
        e = self._entries[slot]
        assert e is not None
        return e

    def _new_slot(self, entry: _Entry) -> int:
        if self._free:
            slot = self._free.pop()
            self._entries[slot] = entry
        else:
            slot = len(self._entries)
            self._entries.append(entry)
        self._slot[entry.id] = slot
        return slot

    def _band_keys(self, fp: Fingerprint) -> np.ndarray:
        """Each band's key (uint64): its bins' bytes read as one unsigned integer when
        they fit one (one or two bins a band), else Python's hash of them (salted per
        process, which is fine for buckets that live only in memory)."""
        width = 4 * self.params.rows
        raw = fp.signature.tobytes()[: width * self.params.bands]
        code = _BAND_CODES.get(width)
        if code is not None:
            return np.frombuffer(raw, dtype=code).astype(np.uint64)
        return np.array([hash(raw[i : i + width]) & _MASK64 for i in range(0, len(raw), width)],
                        dtype=np.uint64)

    def _link(self, slot: int) -> None:
        """Bucket an article and link it to the candidates that are similar enough."""
        entry = self._entry(slot)
        for other in self._buckets.add(slot, self._band_keys(entry.fp)):
            self._link_pair(entry, slot, self._entry(other), other)

    def _unbucket(self, slot: int) -> None:
        entry = self._entry(slot)
        if entry.fp.size < self.params.min_shingles:
            return
        self._buckets.remove(slot, self._band_keys(entry.fp))

    def _component(self, start: int) -> set[int]:
        """Return the slots connected to `start` through links."""
        seen = {start}
        todo = [start]
        while todo:
            for other in self._entry(todo.pop()).links:
                if other not in seen:
                    seen.add(other)
                    todo.append(other)
        return seen

    def _detach(self, slot: int) -> None:
        entry = self._entry(slot)
        if entry.leader == -1:
            return
        members = self._members[entry.leader]
        members.discard(slot)
        if not members:
            del self._members[entry.leader]
        entry.leader = -1

    def _assign(self, slot: int) -> None:
        """Decide a detached article's story from the earlier first versions linked to it."""
        entry = self._entry(slot)
        best, best_rank = slot, None
        for other, sim in entry.links.items():
            o = self._entry(other)
            if o.leader == other and o.key < entry.key:
                rank = (-sim, o.key)
                if best_rank is None or rank < best_rank:
                    best, best_rank = other, rank
        entry.leader = best
        self._members.setdefault(best, set()).add(slot)

    def _plan(self, group: set[int], since: SortKey) -> list[tuple[int, str | None]]:
        """Return the articles of `group` from `since` on, in time order, with their story ids.

        Articles before `since` keep their stories: a story depends only on
        earlier articles.
        """
        later = sorted((self._entry(s).key, s) for s in group if self._entry(s).key >= since)
        plan = []
        for _, slot in later:
            leader = self._entry(slot).leader
            plan.append((slot, self._entry(leader).id if leader >= 0 else None))
        return plan

    def _redo(self, plan: list[tuple[int, str | None]]) -> None:
        """Re-decide the planned articles in time order; note those whose story changed.

        All are detached first, so none joins a first version that is about to
        stop being one.
        """
        for slot, _ in plan:
            self._detach(slot)
        for slot, story in plan:
            self._assign(slot)
            entry = self._entry(slot)
            if story != self._entry(entry.leader).id:
                self._moved.add(entry.id)


def _split_blocks(data: bytes, path: Path) -> list[bytes]:
    if not data.startswith(_MAGIC):
        raise StoryFileError(f"{path} is not a stories file")
    blocks, pos = [], len(_MAGIC)
    for _ in range(6):
        if pos + 8 > len(data):
            raise StoryFileError(f"{path} is truncated")
        (n,) = struct.unpack_from("<Q", data, pos)
        pos += 8
        if pos + n > len(data):
            raise StoryFileError(f"{path} is truncated")
        blocks.append(data[pos : pos + n])
        pos += n
    return blocks
