"""The story index's band buckets in sorted arrays (search/buckets.py) answer exactly as
one dict per band did, through merges, tombstones and reused slots."""

from __future__ import annotations

import random

import numpy as np
import pytest

from search import buckets
from search.buckets import BandBuckets


class DictBuckets:
    """The model: what StoryIndex kept before, one dict per band (key -> set of slots)."""

    def __init__(self, bands: int) -> None:
        self.tables: list[dict[int, set[int]]] = [{} for _ in range(bands)]

    def add(self, slot: int, keys: list[int]) -> set[int]:
        out: set[int] = set()
        for table, key in zip(self.tables, keys, strict=True):
            held = table.setdefault(key, set())
            out |= held
            held.add(slot)
        return out

    def remove(self, slot: int, keys: list[int]) -> None:
        for table, key in zip(self.tables, keys, strict=True):
            table[key].discard(slot)
            if not table[key]:
                del table[key]


@pytest.mark.parametrize("seed", range(8))
def test_band_buckets_answer_as_dicts_do(seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(buckets, "RECENT_MIN", 40)  # merge often
    rng = random.Random(seed)
    bands = rng.choice([1, 4, 8, 32])
    # Few distinct keys, so buckets are shared, across bands too; 64-bit values included.
    pool = [rng.getrandbits(64) for _ in range(6)] + list(range(5))
    ours, model = BandBuckets(bands), DictBuckets(bands)
    live: dict[int, list[int]] = {}
    free: list[int] = []
    merged = 0
    for _ in range(1500):
        if live and rng.random() < 0.35:
            slot = rng.choice(sorted(live))
            keys = live.pop(slot)
            ours.remove(slot, np.array(keys, dtype=np.uint64))
            model.remove(slot, keys)
            free.append(slot)
        else:
            slot = free.pop() if free and rng.random() < 0.7 else len(live) + len(free)
            while slot in live:
                slot += 1
            keys = [rng.choice(pool) for _ in range(bands)]
            live[slot] = keys
            before = len(ours._key)
            assert ours.add(slot, np.array(keys, dtype=np.uint64)) == model.add(slot, keys)
            merged += len(ours._key) != before
        assert len(ours) == bands * len(live)
    assert merged > 3  # the arrays, not only the dicts, were exercised


def test_removing_what_was_never_added_fails() -> None:
    b = BandBuckets(2)
    b.add(1, np.array([5, 6], dtype=np.uint64))
    with pytest.raises(KeyError):
        b.remove(2, np.array([5, 6], dtype=np.uint64))


def test_a_bucket_entry_costs_bytes_not_a_hundred(monkeypatch: pytest.MonkeyPatch) -> None:
    """The point of the module: after a merge an entry is 13 bytes of arrays."""
    monkeypatch.setattr(buckets, "RECENT_MIN", 1000)
    b = BandBuckets(32)
    rng = np.random.default_rng(0)
    for slot in range(200):
        b.add(slot, rng.integers(0, 2**63, 32, dtype=np.uint64))
    b._move_recent()
    arrays = b._key.nbytes + b._band.nbytes + b._slot.nbytes
    assert len(b) == 6400 and arrays == 6400 * 13 and b._recent_n == 0


@pytest.mark.parametrize("seed", range(6))
def test_extend_finds_the_pairs_adding_one_by_one_finds(seed: int,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """Many at once (a rebuild) against the model, after some one at a time (with
    tombstones), with runs of up to ~40 slots under one key (every pair of a run)."""
    monkeypatch.setattr(buckets, "RECENT_MIN", 30)
    rng = random.Random(seed)
    bands = rng.choice([2, 8, 32])
    pool = [rng.getrandbits(64) for _ in range(rng.choice([3, 12, 400]))]
    ours, model = BandBuckets(bands), DictBuckets(bands)
    slot = 0
    for round_ in range(4):
        added = []
        for _ in range(rng.randint(0, 60)):  # one at a time, some removed again
            keys = [rng.choice(pool) for _ in range(bands)]
            ours.add(slot, np.array(keys, dtype=np.uint64))
            model.add(slot, keys)
            added.append((slot, keys))
            slot += 1
        for s, keys in rng.sample(added, len(added) // 3):
            ours.remove(s, np.array(keys, dtype=np.uint64))
            model.remove(s, keys)
        batch = [(slot + i, [rng.choice(pool) for _ in range(bands)])
                 for i in range(rng.randint(1, 120))]
        slot += len(batch)
        expected = set()
        for s, keys in batch:
            for other in model.add(s, keys):
                expected.add((max(s, other), min(s, other)))
        got = ours.extend(np.array([s for s, _ in batch], dtype=np.int32),
                          np.array([k for _, k in batch], dtype=np.uint64))
        assert len(got) == len(set(got))
        assert set(got) == expected, round_
        assert len(ours) == sum(len(v) for t in model.tables for v in t.values())
