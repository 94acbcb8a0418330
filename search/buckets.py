"""LSH band buckets for the story index, in sorted arrays: ~13 bytes an entry, not ~104.

`search.stories.StoryIndex` buckets every article under one key per band (32 bands)
and asks which articles share any (band, key) with a new one. As Python dicts (one per
band, key -> slot) an entry cost ~104 bytes (the key's int object, the slot's, the
table's share): at ~30 bucketed bands an article, 3 KB of the story index's 4.3 KB an
article (242 MB at 57k articles, ~1 GB at 250k), held by the indexer job at its largest.

Here the entries live in three numpy arrays sorted by key (key, band, slot: 8 + 1 + 4
bytes). Many articles at once (`extend`: a rebuild, a load) are looked up and inserted
with array operations; one at a time (`add`: an update) they go to small per-band dicts
first and are moved into the arrays when those hold a quarter as many entries. Removing
an entry of the arrays leaves a tombstone (slot -1), dropped when they add up. The
answers are exact: a pair is two live slots bucketed under the same band and key.
"""

from __future__ import annotations

import numpy as np

RECENT_MIN = 1 << 16  # entries held in the dicts before they are moved into the arrays
MERGE_SHARE = 4  # ... or a quarter of the arrays' entries, when more


def _unique_pairs(a: np.ndarray, b: np.ndarray) -> list[tuple[int, int]]:
    """Distinct unordered pairs of slots (the greater first), dropping a slot with itself."""
    hi, lo = np.maximum(a, b).astype(np.int64), np.minimum(a, b).astype(np.int64)
    codes = np.unique((hi << 32) | lo)
    codes = codes[(codes >> 32) != (codes & 0xFFFFFFFF)]
    return list(zip((codes >> 32).tolist(), (codes & 0xFFFFFFFF).tolist(), strict=True))


class BandBuckets:
    """Which slots are bucketed under each (band, key); see the module doc."""

    def __init__(self, bands: int) -> None:
        self.bands = bands
        self._key: np.ndarray = np.empty(0, dtype=np.uint64)
        self._band: np.ndarray = np.empty(0, dtype=np.uint8 if bands <= 256 else np.uint16)
        self._slot: np.ndarray = np.empty(0, dtype=np.int32)
        self._dead = 0  # tombstones in the arrays
        self._recent: list[dict[int, int | list[int]]] = [{} for _ in range(bands)]
        self._recent_n = 0

    def __len__(self) -> int:
        """Live entries (one per bucketed band of each article)."""
        return len(self._key) - self._dead + self._recent_n

    # --- many at once -----------------------------------------------------------------------

    def extend(self, slots: np.ndarray, keys: np.ndarray) -> list[tuple[int, int]]:
        """Bucket many slots (`keys`: one row of band keys, uint64, a slot) and return
        every pair of slots (the greater first) that now share a (band, key), with a
        slot already here or with another of `slots`, each pair once."""
        if self._recent_n:
            self._move_recent()
        m, bands = keys.shape
        flat = keys.ravel()
        band = np.tile(np.arange(bands, dtype=self._band.dtype), m)
        owner = np.repeat(slots.astype(np.int32), bands)
        new, old = self._pairs_in_arrays(flat, band, owner)
        one, other = self._pairs_among(flat, band, owner)
        self._put(flat, band, owner)
        return _unique_pairs(np.concatenate([new, one]), np.concatenate([old, other]))

    def _pairs_in_arrays(self, flat: np.ndarray, band: np.ndarray, owner: np.ndarray
                         ) -> tuple[np.ndarray, np.ndarray]:
        """(new, old) slot pairs between these entries and the live ones in the arrays."""
        none = np.empty(0, dtype=np.int32)
        if not len(self._key):
            return none, none
        lo = np.searchsorted(self._key, flat, "left")
        hi = np.searchsorted(self._key, flat, "right")
        hit = np.flatnonzero(hi > lo)
        if not len(hit):
            return none, none
        # Expand each hit to its run of equal keys in the arrays (nearly always one).
        runs = (hi - lo)[hit]
        which = np.repeat(hit, runs)
        pos = np.repeat(lo[hit] - np.cumsum(np.r_[0, runs[:-1]]), runs) + np.arange(runs.sum())
        ok = (self._band[pos] == band[which]) & (self._slot[pos] >= 0)
        return owner[which[ok]], self._slot[pos[ok]]

    @staticmethod
    def _pairs_among(flat: np.ndarray, band: np.ndarray, owner: np.ndarray
                     ) -> tuple[np.ndarray, np.ndarray]:
        """Slot pairs within these entries: every two under one (band, key)."""
        order = np.lexsort((band, flat))
        k, b, o = flat[order], band[order], owner[order]
        same = (k[1:] == k[:-1]) & (b[1:] == b[:-1])  # entry i+1 joins entry i's run
        if not same.any():
            none = np.empty(0, dtype=np.int32)
            return none, none
        starts = np.flatnonzero(np.r_[True, ~same])
        sizes = np.diff(np.r_[starts, len(k)])
        # Every pair in a run: for a run starting at s of size n, (s+i, s+j) for i < j.
        s, n = starts[sizes > 1], sizes[sizes > 1]
        counts = n * (n - 1) // 2
        run = np.repeat(np.arange(len(s)), counts)
        rank = np.arange(counts.sum()) - np.repeat(np.cumsum(np.r_[0, counts[:-1]]), counts)
        # The rank-th pair (i, j), i < j, of a run of size n, in the order (0,1), (0,2), (1,2), (0,3), ...
        j = np.floor((1 + np.sqrt(8 * rank + 1)) / 2).astype(np.int64)
        j -= j * (j - 1) // 2 > rank  # float rounding, either way
        j += j * (j + 1) // 2 <= rank
        i = rank - j * (j - 1) // 2
        return o[s[run] + i], o[s[run] + j]

    # --- one at a time ----------------------------------------------------------------------

    def add(self, slot: int, keys: np.ndarray) -> set[int]:
        """Bucket `slot` under `keys` (one uint64 a band); return the slots already
        bucketed under any of the same (band, key)."""
        candidates = {int(s) for s in self._pairs_in_arrays(
            keys, np.arange(len(keys), dtype=self._band.dtype),
            np.full(len(keys), slot, dtype=np.int32))[1].tolist()}
        for band, key in enumerate(keys.tolist()):
            bucket = self._recent[band]
            held = bucket.setdefault(key, slot)
            if held == slot:  # a new key (nearly all): bucketed in that one lookup
                continue
            if isinstance(held, int):
                candidates.add(held)
                bucket[key] = [held, slot]
            else:
                candidates.update(held)
                held.append(slot)
        self._recent_n += len(keys)
        if self._recent_n >= max(RECENT_MIN, len(self._key) // MERGE_SHARE):
            self._move_recent()
        return candidates

    def remove(self, slot: int, keys: np.ndarray) -> None:
        """Unbucket `slot` from `keys` (those it was added with)."""
        left = []
        for band, key in enumerate(keys.tolist()):
            bucket = self._recent[band]
            held = bucket.get(key)
            if held == slot:
                del bucket[key]
            elif isinstance(held, list) and slot in held:
                held.remove(slot)
                if len(held) == 1:
                    bucket[key] = held[0]
            else:
                left.append(band)
                continue
            self._recent_n -= 1
        if left:
            lo = np.searchsorted(self._key, keys[left], "left")
            hi = np.searchsorted(self._key, keys[left], "right")
            for band, a, z in zip(left, lo.tolist(), hi.tolist(), strict=True):
                at = [j for j in range(a, z) if self._slot[j] == slot and self._band[j] == band]
                if not at:
                    raise KeyError(f"slot {slot} is not bucketed under band {band}")
                self._slot[at[0]] = -1
                self._dead += 1

    # --- the arrays -------------------------------------------------------------------------

    def _move_recent(self) -> None:
        """Move the dicts' entries into the arrays."""
        keys: list[int] = []
        bands: list[int] = []
        slots: list[int] = []
        for band, bucket in enumerate(self._recent):
            for key, held in bucket.items():
                if isinstance(held, int):
                    keys.append(key)
                    bands.append(band)
                    slots.append(held)
                else:
                    keys.extend([key] * len(held))
                    bands.extend([band] * len(held))
                    slots.extend(held)
            bucket.clear()
        self._recent_n = 0
        self._put(np.array(keys, dtype=np.uint64), np.array(bands, dtype=self._band.dtype),
                  np.array(slots, dtype=np.int32))

    def _put(self, key: np.ndarray, band: np.ndarray, slot: np.ndarray) -> None:
        """Insert entries into the sorted arrays (one new copy of each at a time), and
        drop the tombstones once they are a quarter of the arrays."""
        if self._dead and self._dead * MERGE_SHARE >= len(self._key):
            live = self._slot >= 0
            self._key, self._band, self._slot = self._key[live], self._band[live], self._slot[live]
            self._dead = 0
        order = np.argsort(key, kind="stable")
        key, band, slot = key[order], band[order], slot[order]
        at = np.searchsorted(self._key, key, "right")
        self._key = np.insert(self._key, at, key)
        self._band = np.insert(self._band, at, band)
        self._slot = np.insert(self._slot, at, slot)
