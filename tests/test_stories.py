"""Story clustering: fingerprints, the story index (incremental = rebuild), persistence."""

from __future__ import annotations

import datetime as dt
import gzip
import json
import os
import random
import re
import subprocess
import sys
from array import array
from pathlib import Path

import pytest

from search.analysis import term_for
from search.fingerprint import (
    DEFAULT_SCHEME,
    Fingerprint,
    Scheme,
    _probes,
    fingerprint,
    fingerprints,
    jaccard,
    overlap,
    shingle_hashes,
    signature,
    term_values,
)
from search.stories import STORIES_FILE, StoryFileError, StoryIndex, StoryParams

UTC = dt.timezone.utc
T0 = dt.datetime(2024, 9, 13, 8, 0, tzinfo=UTC)
ROOT = Path(__file__).resolve().parents[1]

WIRE = (
    "Turkish intelligence captured a suspect in Istanbul who was planning attacks on "
    "behalf of a foreign service, security sources said on Friday. The suspect had "
    "gathered information on military sites and on people living in the city, the "
    "sources said, adding that prosecutors had ordered his arrest after questioning. "
    "Officials gave no further details about the operation or the suspect's identity."
)


# --- fingerprints -------------------------------------------------------------------------


def test_fingerprint_ignores_wrapping_case_and_stop_words() -> None:
    rewrapped = WIRE.replace(" on ", "\non ").upper()
    assert fingerprint(rewrapped).signature == fingerprint(WIRE).signature
    assert fingerprint("The " + WIRE).signature == fingerprint(WIRE).signature


def test_fingerprint_is_the_same_in_every_process() -> None:
    """Signatures are persisted: they must not depend on Python's per-process hash seed."""
    code = (
        "from search.fingerprint import fingerprint as f; import sys; "
        "print(list(f(sys.argv[1]).signature))"
    )
    seed = "1" if os.environ.get("PYTHONHASHSEED") != "1" else "2"
    out = subprocess.run(
        [sys.executable, "-c", code, WIRE],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONHASHSEED": seed},
    ).stdout
    assert out == str(list(fingerprint(WIRE).signature)) + "\n"


def test_similarity_of_edited_and_unrelated_texts() -> None:
    fp = fingerprint(WIRE)
    dateline = fingerprint("ISTANBUL (Anadolu) - " + WIRE + "\n(Reporting by Staff)")
    trimmed = fingerprint(WIRE.rsplit(". ", 2)[0] + ".")
    other = fingerprint(
        "The central bank left its main interest rate unchanged on Thursday and said "
        "inflation would slow in the coming months as food prices fall back from highs."
    )
    assert jaccard(fp, fp) == 1.0
    assert overlap(fp, dateline) >= 0.8
    assert overlap(fp, trimmed) >= 0.9 > jaccard(fp, trimmed)
    assert overlap(fp, other) < 0.1


def test_empty_and_short_texts() -> None:
    empty = fingerprint("")
    assert empty.empty and jaccard(empty, empty) == 0.0
    short = fingerprint("Markets closed")  # fewer terms than a shingle: one shingle
    assert short.size == 1 and jaccard(short, fingerprint("markets CLOSED")) == 1.0


def test_signature_fills_empty_bins_from_the_same_probes() -> None:
    """Densified bins of two equal small sets agree, so short texts still band together."""
    sig = signature({1 << 40, 2 << 40, 3 << 40}, 16)
    assert len(sig) == 16 and sig == signature({3 << 40, 1 << 40, 2 << 40}, 16)
    assert set(sig) <= {1 << 8, 2 << 8, 3 << 8}


def test_signature_is_the_densified_one_permutation_minhash() -> None:
    """Each bin keeps the least top half of its hashes; an empty bin takes the value of
    the first filled bin along its probes (sets small enough that some bins find none
    among their first probes, and large enough that most do)."""
    rng = random.Random(5)
    probes = _probes(64)
    for n in (1, 3, 20, 60, 200, 1000):
        for _ in range(20):
            hashes = {rng.getrandbits(64) for _ in range(n)}
            least = [min((h >> 32 for h in hashes if h & 63 == b), default=None)
                     for b in range(64)]
            want = [v if v is not None else next(least[p] for p in probes[b]
                                                 if least[p] is not None)
                    for b, v in enumerate(least)]
            assert list(signature(hashes, 64)) == want


def test_fingerprint_reads_terms_from_the_words_given() -> None:
    """A writer's words give the same fingerprint as analysing the text; a word they
    lack is analysed here, and a stop word they hold as such is left out."""
    text = WIRE + " Zqxunseen token, and more zqxunseen tokens."
    words = {w: tuple(filter(None, [term_for(w)])) for w in set(re.findall(r"\w+", WIRE))}
    assert "zqxunseen" not in words and words["the"] == ()
    assert fingerprint(text, words=words) == fingerprint(text)
    wrong = {w: ("x",) for w in words}  # the words are trusted, not checked
    assert fingerprint(text, words=wrong) != fingerprint(text)


def test_scheme_validation() -> None:
    with pytest.raises(ValueError):
        Scheme(bins=100)
    with pytest.raises(ValueError):
        StoryParams(threshold=0)


# --- the story index on crafted signatures ---------------------------------------------------

# Exhaustive candidates (one row per band) and Jaccard on 16 bins: exact control.
EXACT = StoryParams(
    scheme=Scheme(bins=16),
    rows=1,
    max_bands=0,
    measure="jaccard",
    threshold=0.5,
    min_shingles=1,
    window_days=None,
)


def fp(values: list[int]) -> Fingerprint:
    assert len(values) == 16
    return Fingerprint(array("I", values), 100)


BASE = list(range(100, 116))


def variant(keep: int, start: int, base: list[int] = BASE) -> list[int]:
    """`base` with all but `keep` values replaced by fresh ones from `start`."""
    return base[:keep] + list(range(start, start + 16 - keep))


def test_first_version_leads_and_names_the_story() -> None:
    index = StoryIndex(EXACT)
    assert index.add("late", T0 + dt.timedelta(hours=2), fp(variant(14, 1000))) == "late"
    assert index.add("early", T0, fp(BASE)) == "early"
    assert index.story_of("late") == "early"
    assert index.members("early") == ["early", "late"]
    assert index.size("early") == 2
    assert index.pop_moved() == {"late", "early"}


def test_a_chain_of_weak_links_does_not_snowball() -> None:
    a = BASE
    b = variant(10, 1000, a)  # 10/16 bins equal to a's
    c = list(range(2000, 2006)) + b[6:]  # 10/16 with b, 4/16 with a
    index = StoryIndex.build(
        [
            ("a", T0, fp(a)),
            ("b", T0 + dt.timedelta(hours=1), fp(b)),
            ("c", T0 + dt.timedelta(hours=2), fp(c)),
        ],
        EXACT,
    )
    assert jaccard(fp(a), fp(c)) < EXACT.threshold <= jaccard(fp(b), fp(c))
    assert index.story_of("b") == "a"
    assert index.story_of("c") == "c"  # like b, not like the first version: a story of its own


def test_deleting_the_first_version_splits_its_story() -> None:
    a = BASE
    b = variant(12, 1000, a)
    c = a[:4] + list(range(3000, 3006)) + a[10:]  # like a (10/16), not like b (6/16)
    items = [
        ("a", T0, fp(a)),
        ("b", T0 + dt.timedelta(hours=1), fp(b)),
        ("c", T0 + dt.timedelta(hours=2), fp(c)),
    ]
    index = StoryIndex.build(items, EXACT)
    assert index.members("a") == ["a", "b", "c"]
    index.pop_moved()
    index.remove("a")
    assert index.story_of("b") == "b" and index.story_of("c") == "c"
    assert index.pop_moved() == {"b", "c"}
    assert index.assignments() == StoryIndex.build(items[1:], EXACT).assignments()
    with pytest.raises(KeyError):
        index.members("a")


def test_window_keeps_a_repeated_template_apart() -> None:
    params = StoryParams(
        scheme=EXACT.scheme,
        rows=1,
        max_bands=0,
        measure="jaccard",
        threshold=0.5,
        min_shingles=1,
        window_days=7,
    )
    index = StoryIndex.build(
        [
            ("mon", T0, fp(BASE)),
            ("next-month", T0 + dt.timedelta(days=30), fp(BASE)),
            ("undated", None, fp(BASE)),
        ],
        params,
    )
    assert index.story_of("next-month") == "next-month"
    assert index.story_of("undated") == "mon"  # no date: no window to apply


def random_items(rng: random.Random, n: int) -> list[tuple[str, dt.datetime | None, Fingerprint]]:
    """Families of variants of a few bases, with tied and missing dates."""
    bases = [list(range(k * 1000, k * 1000 + 16)) for k in range(6)]
    items = []
    for i in range(n):
        base = rng.choice(bases)
        values = [v if rng.random() < 0.8 else rng.randrange(10**6, 10**7) for v in base]
        when = None if rng.random() < 0.1 else T0 + dt.timedelta(hours=rng.randrange(40))
        items.append((f"a{i:03d}", when, fp(values)))
    return items


@pytest.mark.parametrize("seed", range(5))
def test_incremental_adds_and_removes_equal_a_rebuild(seed: int) -> None:
    rng = random.Random(seed)
    items = random_items(rng, 120)
    expected = StoryIndex.build(items, EXACT).assignments()
    index = StoryIndex(EXACT)
    for item in rng.sample(items, len(items)):
        index.add(*item)
    assert index.assignments() == expected
    gone = set(rng.sample([i[0] for i in items], 40))
    for article_id in rng.sample(sorted(gone), len(gone)):
        index.remove(article_id)
    rest = [i for i in items if i[0] not in gone]
    assert index.assignments() == StoryIndex.build(rest, EXACT).assignments()
    for item in items:
        if item[0] in gone:
            index.add(*item)
    assert index.assignments() == expected


def test_replacing_an_article_re_decides_it() -> None:
    index = StoryIndex(EXACT)
    index.add("a", T0, fp(BASE))
    index.add("b", T0 + dt.timedelta(hours=1), fp(variant(14, 500)))
    assert index.story_of("b") == "a"
    index.add("b", T0 + dt.timedelta(hours=1), fp(list(range(9000, 9016))))
    assert index.story_of("b") == "b" and len(index) == 2


# --- persistence ------------------------------------------------------------------------------


def test_save_and_load_round_trip(tmp_path: Path) -> None:
    items = random_items(random.Random(7), 80)
    index = StoryIndex.build(items, EXACT)
    path = index.save(tmp_path)
    assert path == tmp_path / STORIES_FILE
    loaded = StoryIndex.load(tmp_path, EXACT)
    assert loaded.assignments() == index.assignments()
    assert sorted(loaded.stories()) == sorted(index.stories())
    # The loaded index keeps working incrementally.
    loaded.remove(items[0][0])
    index.remove(items[0][0])
    assert loaded.assignments() == index.assignments()


def test_load_refuses_other_params_and_broken_files(tmp_path: Path) -> None:
    StoryIndex.build(random_items(random.Random(1), 10), EXACT).save(tmp_path)
    with pytest.raises(StoryFileError, match="other parameters"):
        StoryIndex.load(
            tmp_path,
            StoryParams(scheme=EXACT.scheme, rows=1, max_bands=0, measure="jaccard", threshold=0.6),
        )
    data = (tmp_path / STORIES_FILE).read_bytes()
    (tmp_path / STORIES_FILE).write_bytes(data[:-10])
    with pytest.raises(StoryFileError, match="truncated"):
        StoryIndex.load(tmp_path, EXACT)
    with pytest.raises(StoryFileError, match="cannot read"):
        StoryIndex.load(tmp_path / "missing", EXACT)


def _reference_fingerprint(text: str, k: int = 3, bins: int = 128) -> tuple[list[int], set[int]]:
    """The fingerprint as first written (sets of Python ints, a loop per bin): the numpy
    version must give the same signature, bit for bit, or stored story indexes break."""
    from search.analysis import TOKEN_PATTERN, term_for
    from search.fingerprint import _probes, term_hash

    hs = [term_hash(t, k) for t in (term_for(w) for w in re.findall(TOKEN_PATTERN, text)) if t]
    if not hs:
        return [0] * bins, set()
    if len(hs) < k:
        h = 0
        for i, th in enumerate(hs):
            h ^= th[i]
        shingles = {h}
    else:
        shingles = {a[0] ^ b[1] ^ c[2] for a, b, c in zip(hs, hs[1:], hs[2:], strict=False)}
    empty = 1 << 32
    sig = [empty] * bins
    for h in shingles:
        sig[h & (bins - 1)] = min(sig[h & (bins - 1)], h >> 32)
    filled = list(sig)
    for b, v in enumerate(filled):
        if v == empty:
            sig[b] = next(filled[p] for p in _probes(bins)[b] if filled[p] != empty)
    return sig, shingles


@pytest.mark.parametrize("length", [0, 1, 2, 3, 5, 40, 150, 400, 2000])
def test_fingerprint_matches_the_reference(length: int) -> None:
    """Short texts (densified bins), mid-size and long ones, stop words and repeats."""
    words = (
        "The central bank said on Tuesday it would raise interest rates again as inflation "
        "in Gaza and the West Bank reached a record , Reuters reported ; officials said the "
        "talks in Cairo were going well and the ceasefire would hold 2024 ."
    ).split()
    text = " ".join(words[i * 7 % len(words)] for i in range(length))
    got = fingerprint(text)
    sig, shingles = _reference_fingerprint(text)
    assert (list(got.signature), got.size) == (sig, len(shingles))
    assert shingle_hashes(text, 3) == shingles


def _batched(texts: list[str], scheme: Scheme = DEFAULT_SCHEME) -> list[Fingerprint]:
    return fingerprints([term_values(t, scheme.shingle) for t in texts], scheme)


@pytest.mark.parametrize("scheme", [Scheme(), Scheme(shingle=2, bins=16), Scheme(shingle=1)])
def test_batched_fingerprints_equal_one_at_a_time(scheme: Scheme) -> None:
    """The index workers' batch path: texts of every length in one batch, texts sharing
    shingles (a story's versions), a text twice, empty ones between them."""
    words = WIRE.split()
    texts = [" ".join(words[i * 7 % len(words)] for i in range(n))
             for n in (0, 1, 2, 3, 5, 40, 150, 400, 2000)]
    texts += [WIRE, WIRE.upper(), WIRE[: len(WIRE) // 2], WIRE, "", "said the", "Gaza Gaza Gaza"]
    random.Random(3).shuffle(texts)
    want = [fingerprint(t, scheme) for t in texts]
    assert _batched(texts, scheme) == want
    assert [_batched([t], scheme)[0] for t in texts] == want
    assert fingerprints([], scheme) == []


def test_fingerprint_matches_the_reference_on_real_articles(shared_data: Path) -> None:
    seed = (shared_data / "seed" / "anadolu-2024-09-13.txt").read_text(encoding="utf-8")
    texts = [seed, seed[: len(seed) // 3], seed.upper()]
    with gzip.open(shared_data / "collections" / "saudinewsnet.jsonl.gz", "rt") as f:
        texts += [json.loads(line)["body"] for _, line in zip(range(40), f, strict=False)]
    for text in texts:
        got = fingerprint(text)
        sig, shingles = _reference_fingerprint(text)
        assert (list(got.signature), got.size) == (sig, len(shingles))
    assert _batched(texts) == [fingerprint(t) for t in texts]
