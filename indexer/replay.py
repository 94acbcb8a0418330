"""Replay the single-process rebuild's rules over what a distributed rebuild extracted.

Pure: no file, index or cluster. `changes.Applier` walks the files in source
order and keeps, for each id, the first copy in that order (a second copy in
the same file or in a later file counts as a duplicate). Partitions are
extracted without knowing each other, so this walk, over what every piece
reported, decides which copy wins, builds the catalog `update` needs, and
names the copies each shard must not write. The result is the catalog, tally and
document set a single-process `rebuild` of the same files would produce.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from indexer.catalog import FileRecord
from indexer.changes import Progress, Tally
from indexer.extract import detect_kind
from indexer.shard import PieceResult
from search.fingerprint import Fingerprint


@dataclass
class Replayed:
    """The single-process outcome, and the copies each shard must leave out to reach it."""

    files: dict[str, FileRecord] = field(default_factory=dict)  # the catalog's files
    claimed: dict[str, tuple[str, str]] = field(default_factory=dict)  # id -> (file, digest)
    stories: list[tuple[str, dt.datetime | None, Fingerprint]] = field(default_factory=list)
    drop: dict[int, set[str]] = field(default_factory=dict)  # partition -> ids not to write
    tally: Tally = field(default_factory=Tally)


def replay(
    order: Sequence[Path],
    reports: Sequence[tuple[int, Sequence[PieceResult]]],
    *,
    scan_ns: int,
    progress: Progress,
) -> Replayed:
    """Walk `order` (every file of the rebuild) over the partitions' reports, as Applier would.

    `reports` holds (partition number, its pieces' results) for every partition.
    """
    by_path: dict[str, list[tuple[int, PieceResult]]] = {}
    for partition, pieces in sorted(reports, key=lambda r: r[0]):
        for piece in pieces:
            by_path.setdefault(piece.piece.path, []).append((partition, piece))
    out = Replayed()
    winner: dict[str, int] = {}  # id -> partition whose shard holds the winning copy
    for path in order:
        key = str(path)
        out.tally.files += 1
        progress.on_file(key)
        results = sorted(by_path.get(key, []), key=lambda r: r[1].piece.start)
        if not results:
            raise RuntimeError(f"no partition reported {key}; the job plan is inconsistent")
        rec = _replay_file(key, path, results, out, winner, scan_ns)
        if rec is not None:
            out.files[key] = rec
    for partition, pieces in reports:
        written = {e.id for p in pieces for e in p.entries if e.written}
        losing = {aid for aid in written if winner.get(aid) != partition}
        if losing:
            out.drop[partition] = losing
    for skipped in out.tally.skipped:
        progress.on_skip(skipped)
    return out


def _replay_file(
    key: str,
    path: Path,
    results: list[tuple[int, PieceResult]],
    out: Replayed,
    winner: dict[str, int],
    scan_ns: int,
) -> FileRecord | None:
    """Apply Applier._index_file's rules to one file; return its catalog record."""
    tally = out.tally
    first = results[0][1]
    if first.unreadable is not None:
        tally.skipped.append(first.unreadable)
        if first.stat is None or detect_kind(path.name) is None:
            return None
        why = first.unreadable
        return FileRecord.of(first.stat, None, {}, [(why.path, why.reason)], scan_ns=scan_ns)
    if len({r.sha1 for _, r in results}) != 1 or any(r.unreadable for _, r in results):
        raise RuntimeError(f"{key} changed while the job ran; run the job again")
    assert first.stat is not None
    articles: dict[str, str] = {}
    skips_before = len(tally.skipped)
    for partition, piece in results:
        tally.skipped.extend(piece.skipped)
        for e in piece.entries:
            if e.id in articles:
                tally.duplicates += 1
                continue
            articles[e.id] = e.digest
            if e.id in out.claimed:
                tally.duplicates += 1
                continue
            if not e.written or e.fp is None:
                raise RuntimeError(
                    f"article {e.id} of {key} won but its shard holds another copy; "
                    "rebuild without --workers"
                )
            out.claimed[e.id] = (key, e.digest)
            out.stories.append((e.id, e.published, e.fp))
            winner[e.id] = partition
            tally.added += 1
        if piece.crashed:
            break  # a single process stops at the error too: later slices count for nothing
    skipped = [(s.path, s.reason) for s in tally.skipped[skips_before:]]
    return FileRecord.of(first.stat, first.sha1, articles, skipped, scan_ns=scan_ns)
