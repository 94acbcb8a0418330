"""Split a rebuild's files into partitions of similar weight, keeping source order.

Pure planning for the distributed rebuild (`distributed.py`): a partition is
a contiguous run of *pieces* in source order, so shards concatenated in
partition order hold their documents in the order a single-process build
writes them (the order also breaks ties between equal scores). A piece is a
whole file, or one of `parts` line slices of a JSON Lines file too heavy for
one partition: a newsroom archive is often a few huge JSONL dumps, and a
whole-file split would leave most workers idle.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from indexer.extract import detect_kind

# Gzipped text is read ~4x larger than it is on disk; weights only steer balance.
GZIP_WEIGHT = 4
# A JSONL file is split only when it is at least this heavy: smaller ones are cheap anyway.
SPLIT_MIN_WEIGHT = 4 * 1024 * 1024


@dataclass(frozen=True)
class Piece:
    """A whole file, or slices `start` to `stop` (excluded) of `parts` of a JSON Lines file.

    Slice k of n holds the k-th n-th of the file's non-blank lines.
    """

    path: str
    start: int = 0
    stop: int = 1
    parts: int = 1

    @property
    def whole(self) -> bool:
        return self.start == 0 and self.stop == self.parts


@dataclass(frozen=True)
class Partition:
    """One Dask task's share of a rebuild: pieces in source order, written to one shard."""

    number: int
    pieces: tuple[Piece, ...]
    weight: int


def weight_of(path: str, size: int) -> int:
    """Estimate the work in a file from its size on disk."""
    return max(1, size * (GZIP_WEIGHT if path.lower().endswith(".gz") else 1))


def plan_partitions(
    files: Sequence[tuple[str, int]], target: int, *, split_min: int = SPLIT_MIN_WEIGHT
) -> list[Partition]:
    """Cut `files` ((path, size) in source order) into about `target` contiguous partitions."""
    if target < 1:
        raise ValueError("target must be at least 1")
    weighted: list[tuple[Piece, int]] = []
    total = sum(weight_of(p, s) for p, s in files)
    chunk = max(1, math.ceil(total / target))
    for path, size in files:
        w = weight_of(path, size)
        if detect_kind(path) == "jsonl" and w >= split_min and w > chunk:
            # Slices of half a partition let the cuts land near their targets.
            parts = math.ceil(2 * w / chunk)
            weighted += [(Piece(path, k, k + 1, parts), math.ceil(w / parts)) for k in range(parts)]
        else:
            weighted.append((Piece(path), w))
    return _cut(weighted, chunk)


def _cut(weighted: list[tuple[Piece, int]], chunk: int) -> list[Partition]:
    """Close a partition at the piece boundary nearest to `chunk` past the previous cut."""
    out: list[Partition] = []
    pieces: list[Piece] = []
    done = weight = 0  # weight of closed partitions, of the open one
    for piece, w in weighted:
        boundary = done + chunk
        # Close before this piece when that lands nearer the boundary than after it.
        if pieces and done + weight + w - boundary > boundary - (done + weight):
            out.append(Partition(len(out), tuple(pieces), weight))
            done, pieces, weight = done + weight, [], 0
        last = pieces[-1] if pieces else None
        if last and last.path == piece.path and last.stop == piece.start:
            pieces[-1] = Piece(piece.path, last.start, piece.stop, piece.parts)  # one slice
        else:
            pieces.append(piece)
        weight += w
    if pieces:
        out.append(Partition(len(out), tuple(pieces), weight))
    return out
