"""The benchmark corpus: the shared collections and extraction pages, sampled reproducibly.

The material is read in place from ../shared/data and never copied into the repository.
A size below "all" is a seeded sample across every collection and page set, written as
temporary JSON Lines files (pages as symbolic links) so the real indexer reads files,
extracts and indexes exactly as `python -m indexer build` does. A size above "all" is a
*replicated* corpus (fresh ids and URLs, dates shifted by whole weeks per copy) and is
labelled as such in every report.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import os
import random
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
COLLECTIONS = "collections"
PAGE_SETS = "extraction"
REPLICA_SHIFT = dt.timedelta(weeks=53)  # per copy: a year and a day, keeps weekdays


@dataclass(frozen=True)
class Item:
    """One corpus entry: a JSON record line of a collection, or an HTML page file."""

    collection: str  # "reuters21578", "pages/aeb", ...
    line: str | None = None
    page: Path | None = None


@dataclass(frozen=True)
class Sample:
    """What a benchmark size indexes: its source paths and how it was made."""

    label: str  # "5000", "all", "250000 (replicated)"
    sources: tuple[Path, ...]
    items: int
    by_collection: dict[str, int]
    replicated: bool = False


def available(data_dir: Path) -> bool:
    return (data_dir / COLLECTIONS).is_dir()


def collection_files(data_dir: Path) -> list[Path]:
    return sorted((data_dir / COLLECTIONS).glob("*.jsonl.gz"))


def page_dirs(data_dir: Path) -> list[Path]:
    return sorted(p for p in (data_dir / PAGE_SETS).glob("*/pages") if p.is_dir())


def load_items(data_dir: Path) -> list[Item]:
    """Return every record line and page of the corpus, in a stable order."""
    items: list[Item] = []
    for path in collection_files(data_dir):
        name = path.name.removesuffix(".jsonl.gz")
        with gzip.open(path, "rt", encoding="utf-8") as f:
            items.extend(Item(name, line=line.rstrip("\n")) for line in f if line.strip())
    for pages in page_dirs(data_dir):
        name = f"pages/{pages.parent.name}"
        items.extend(Item(name, page=p) for p in sorted(pages.glob("*.html.gz")))
    return items


def shuffled(items: list[Item], seed: int) -> list[Item]:
    """Return the corpus in a seeded random order; a size-N sample is its first N items."""
    out = list(items)
    random.Random(seed).shuffle(out)
    return out


def _count(items: Iterable[Item]) -> dict[str, int]:
    return dict(sorted(Counter(i.collection for i in items).items()))


def in_place(data_dir: Path, items: list[Item]) -> Sample:
    """The whole corpus, read where it lies."""
    sources = (*collection_files(data_dir), *page_dirs(data_dir))
    return Sample("all", tuple(sources), len(items), _count(items))


def write_sample(order: list[Item], n: int, dest: Path) -> Sample:
    """Write the first `n` items of `order` under `dest` as the indexer's input files."""
    chosen = order[:n]
    dest.mkdir(parents=True, exist_ok=True)
    records: dict[str, list[str]] = {}
    for item in chosen:
        if item.line is not None:
            records.setdefault(item.collection, []).append(item.line)
        else:
            assert item.page is not None
            link = dest / item.collection / item.page.name
            link.parent.mkdir(parents=True, exist_ok=True)
            os.symlink(item.page.resolve(), link)
    for name, lines in records.items():
        with gzip.open(dest / f"{name}.jsonl.gz", "wt", encoding="utf-8", compresslevel=1) as f:
            f.write("\n".join(lines) + "\n")
    return Sample(str(n), (dest,), len(chosen), _count(chosen))


def _shift_date(value: object, k: int) -> object:
    if not isinstance(value, str) or not value:
        return value
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        return value
    return (parsed + k * REPLICA_SHIFT).isoformat()


def _replica(line: str, k: int) -> str:
    record = json.loads(line)
    rid = record.get("id") or "r"
    record["id"] = f"{rid}-copy{k}"
    # The article id comes from the canonical URL (else title + body): a fresh URL per copy.
    record["url"] = f"https://replica.invalid/copy{k}/{rid}"
    record["date"] = _shift_date(record.get("date"), k)
    return json.dumps(record, ensure_ascii=False)


def write_replicated(items: list[Item], n: int, dest: Path) -> Sample:
    """Write `n` items: the corpus once, then copies of its records with new ids and dates."""
    dest.mkdir(parents=True, exist_ok=True)
    records = [i for i in items if i.line is not None]
    pages = [i for i in items if i.page is not None]
    base = write_sample(items, len(items), dest / "original")
    written, k = base.items, 0
    counts = Counter(base.by_collection)
    while written < n:
        k += 1
        take = records[: n - written]
        by_name: dict[str, list[str]] = {}
        for item in take:
            by_name.setdefault(item.collection, []).append(_replica(item.line or "", k))
        for name, lines in by_name.items():
            with gzip.open(
                dest / f"copy{k}-{name}.jsonl.gz", "wt", encoding="utf-8", compresslevel=1
            ) as f:
                f.write("\n".join(lines) + "\n")
            counts[f"{name} (copies)"] += len(lines)
        written += len(take)
    del pages  # pages are indexed once, inside "original"
    return Sample(
        f"{n} (replicated)", (dest,), written, dict(sorted(counts.items())), replicated=True
    )
