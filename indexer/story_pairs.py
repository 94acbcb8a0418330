"""The labelled set for story clustering, built from ../shared/data/collections.

No article text is written here: it is all taken from the collections.

- synthetic reprints: real articles, each with 1-3 versions made by the edits
  outlets apply to wire copy (`indexer.wire_edits`); every (article, version)
  and (version, version) pair is a positive, scored per edit;
- real pairs judged by reading both texts (`indexer/story_labels.json`,
  sampled by exact shingle overlap band from all three collections);
- distinct stories on one topic: Reuters articles with the same topic and the
  same day, and articles sharing many rare words; both kept only when their
  exact shingle overlap is under 0.3 (a reprint shares most of its shingles;
  pairs above that are what the hand-labelled sample covers).

Same seed, same set, whatever the Python hash seed.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import random
import re
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import combinations
from pathlib import Path

from indexer.wire_edits import make_version
from search.analysis import TOKEN_PATTERN, fold
from search.fingerprint import shingle_hashes

COLLECTIONS = ("reuters21578", "news9", "saudinewsnet")
LABELS_FILE = Path(__file__).with_name("story_labels.json")
CLEAR_NEGATIVE = 0.3  # exact shingle overlap under which two texts are not reprints
_WORDS = re.compile(TOKEN_PATTERN)
DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


@dataclass(frozen=True)
class Doc:
    id: str
    title: str
    body: str
    published: dt.datetime | None
    section: str | None
    language: str | None
    collection: str
    origin: str = ""  # for a synthetic version: the article it was made from
    edits: tuple[str, ...] = ()


@dataclass(frozen=True)
class Pair:
    a: str
    b: str
    kind: str  # "synthetic", "real-same", "real-different", "same-topic-day", "rare-words"
    positive: bool
    edits: tuple[str, ...] = ()


@dataclass
class EvalSet:
    docs: dict[str, Doc]
    pairs: list[Pair]
    versions: dict[str, str] = field(default_factory=dict)  # version id -> original id


def _published(value: str | None) -> dt.datetime | None:
    if not value:
        return None
    d = dt.datetime.fromisoformat(value)
    return d if d.tzinfo else d.replace(tzinfo=dt.timezone.utc)


def _lines(data_dir: Path, name: str) -> list[bytes]:
    with gzip.open(data_dir / "collections" / f"{name}.jsonl.gz", "rb") as f:
        return [line for line in f.read().split(b"\n") if line.strip()]


def _line_id(line: bytes) -> str:
    """Return a record's id without parsing the line (records start with their id)."""
    if line.startswith(b'{"id": "'):
        return line[8 : line.index(b'"', 8)].decode("utf-8")
    return str(json.loads(line)["id"])


def _doc(line: bytes, collection: str) -> Doc:
    r = json.loads(line)
    return Doc(
        r["id"],
        r.get("title") or "",
        r.get("body") or "",
        _published(r.get("date")),
        r.get("section"),
        r.get("language"),
        collection,
    )


def load_collection(data_dir: Path, name: str) -> list[Doc]:
    """Read one collection of ../shared/data/collections."""
    return [_doc(line, name) for line in _lines(data_dir, name)]


def load_labels(path: Path = LABELS_FILE) -> list[dict[str, str]]:
    """Return the hand-judged pairs: {"a", "b", "label", "note"}."""
    return list(json.loads(path.read_text(encoding="utf-8"))["pairs"])


def exact_overlap(a: str, b: str) -> float:
    """Return |A & B| / min(|A|, |B|) over the exact shingle sets of two texts."""
    sa, sb = shingle_hashes(a, 3), shingle_hashes(b, 3)
    if not sa or not sb:
        return 0.0
    return len(sa & sb) / min(len(sa), len(sb))


def _versions(originals: list[Doc], rng: random.Random) -> Iterator[Doc]:
    for doc in originals:
        day = doc.published.strftime("%B %-d") if doc.published else "March 3"
        for i in range(rng.randint(1, 3)):
            v = make_version(doc.title, doc.body, doc.language or "en", rng, day)
            published = (
                doc.published + dt.timedelta(minutes=rng.randint(5, 48 * 60))
                if doc.published
                else None
            )
            yield Doc(
                f"{doc.id}~v{i + 1}",
                v.title,
                v.body,
                published,
                doc.section,
                doc.language,
                doc.collection,
                origin=doc.id,
                edits=v.edits,
            )


def _same_topic_day(
    docs: list[Doc], rng: random.Random, n: int, skip: set[frozenset[str]]
) -> list[Pair]:
    groups: dict[tuple[str, str], list[Doc]] = defaultdict(list)
    for d in docs:
        if d.collection == "reuters21578" and d.section and d.published and len(d.body) > 200:
            groups[(d.section, d.published.date().isoformat())].append(d)
    candidates = [p for g in groups.values() if len(g) > 1 for p in combinations(g, 2)]
    rng.shuffle(candidates)
    out: list[Pair] = []
    for a, b in candidates:
        if len(out) >= n:
            break
        if frozenset((a.id, b.id)) in skip or exact_overlap(a.body, b.body) >= CLEAR_NEGATIVE:
            continue
        out.append(Pair(a.id, b.id, "same-topic-day", False))
    return out


def _rare_words(
    docs: list[Doc], rng: random.Random, n: int, skip: set[frozenset[str]]
) -> list[Pair]:
    """Pairs of one collection sharing the most words that occur in 2-20 of its articles."""
    out: list[Pair] = []
    by_collection: dict[str, list[Doc]] = defaultdict(list)
    for d in docs:
        if len(d.body) > 200:
            by_collection[d.collection].append(d)
    per = max(1, n // max(1, len(by_collection)))
    for group in by_collection.values():
        # Folded words, not index terms: rare words need no stemming, and it is much faster.
        vocab = [{fold(w) for w in _WORDS.findall(d.body) if len(w) > 3} for d in group]
        df = Counter(t for v in vocab for t in v)
        postings: dict[str, list[int]] = defaultdict(list)
        for i, v in enumerate(vocab):
            for t in v:
                if 2 <= df[t] <= 20:
                    postings[t].append(i)
        order = list(range(len(group)))
        rng.shuffle(order)
        found = 0
        for i in order:
            if found >= per:
                break
            rare = sorted(t for t in vocab[i] if 2 <= df[t] <= 20)  # sorted: same ties every run
            shared = Counter(j for t in rare for j in postings[t] if j != i)
            if not shared:
                continue
            j, count = shared.most_common(1)[0]
            a, b = group[i], group[j]
            if (
                count < 5
                or frozenset((a.id, b.id)) in skip
                or exact_overlap(a.body, b.body) >= CLEAR_NEGATIVE
            ):
                continue
            out.append(Pair(a.id, b.id, "rare-words", False))
            found += 1
    return out


def build_eval_set(
    data_dir: Path,
    *,
    seed: int = 1,
    originals: int = 600,
    negatives: int = 600,
    pool: int | None = None,
    min_words: int = 40,
) -> EvalSet:
    """Build the labelled set (see the module docstring); same seed, same set.

    With `pool=None` every collection article is clustered (the realistic run).
    With `pool=N`, originals and rare-word negatives come from N random articles
    of each collection, and only the articles the pairs need are clustered: a
    quick run for tests.
    """
    rng = random.Random(seed)
    labels = load_labels()
    labelled = {x for p in labels for x in (p["a"], p["b"])}
    known: dict[str, Doc] = {}
    drawn: dict[str, list[Doc]] = {}
    for name in COLLECTIONS:
        lines = _lines(data_dir, name)
        if pool is None:
            docs = [_doc(line, name) for line in lines]
            drawn[name] = docs
        else:
            picked = set(rng.sample(range(len(lines)), min(pool, len(lines))))
            # Same-topic, same-day pairs need all of Reuters' topics and dates.
            everything = name == "reuters21578"
            docs = [
                _doc(line, name)
                for i, line in enumerate(lines)
                if everything or i in picked or _line_id(line) in labelled
            ]
            drawn[name] = (
                [d for i, d in enumerate(docs) if i in picked]
                if everything
                else [d for d in docs if d.id not in labelled]
            )
        known.update((d.id, d) for d in docs)

    skip = {frozenset((p["a"], p["b"])) for p in labels}
    pairs: list[Pair] = []
    for p in labels:
        if p["label"] in ("same", "different") and p["a"] in known and p["b"] in known:
            same = p["label"] == "same"
            pairs.append(Pair(p["a"], p["b"], "real-same" if same else "real-different", same))

    chosen: list[Doc] = []
    for name in COLLECTIONS:
        candidates = [d for d in drawn[name] if len(d.body.split()) >= min_words]
        chosen += rng.sample(candidates, min(originals // len(COLLECTIONS), len(candidates)))
    versions = list(_versions(chosen, rng))
    family: dict[str, list[Doc]] = defaultdict(list)
    for v in versions:
        family[v.origin].append(v)
        pairs.append(Pair(v.origin, v.id, "synthetic", True, v.edits))
    for members in family.values():
        for va, vb in combinations(members, 2):
            pairs.append(
                Pair(va.id, vb.id, "synthetic", True, tuple(sorted(set(va.edits) | set(vb.edits))))
            )

    pairs += _same_topic_day(list(known.values()), rng, negatives // 2, skip)
    pairs += _rare_words([d for docs in drawn.values() for d in docs], rng, negatives // 2, skip)

    docs_out: dict[str, Doc] = {v.id: v for v in versions}
    if pool is None:
        docs_out.update(known)
    else:
        needed = {x for p in pairs for x in (p.a, p.b)}
        docs_out.update((i, known[i]) for i in needed if i in known)
    return EvalSet(docs_out, pairs, {v.id: v.origin for v in versions})
