"""A reproducible sample of the shared collections, written as JSON Lines for the indexer.

Each collection contributes a fixed number of records drawn with the seed (all of them
when it has fewer). fundus-dev's reference bodies (German, Turkish, French, Spanish, ...;
no declared language, so the indexer detects it) are added whole: they are the only
non-English Latin-script news in the shared data.
"""

from __future__ import annotations

import gzip
import json
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

COLLECTIONS = {"reuters21578": 6000, "news9": 3000, "saudinewsnet": 6000}
FUNDUS = "extraction/fundus-dev/truth.jsonl"


def _records(path: Path) -> Iterator[dict[str, Any]]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as f:  # type: ignore[operator]
        for line in f:
            if line.strip():
                yield json.loads(line)


def draw(data: Path, seed: int, sizes: dict[str, int] | None = None,
         fundus: bool = True) -> dict[str, list[dict[str, Any]]]:
    """Return collection name -> sampled records (original keys)."""
    rng = random.Random(seed)
    out: dict[str, list[dict[str, Any]]] = {}
    for name, size in (sizes or COLLECTIONS).items():
        records = [r for r in _records(data / "collections" / f"{name}.jsonl.gz")
                   if (r.get("body") or "").strip()]
        out[name] = records if size >= len(records) else rng.sample(records, size)
    if fundus and (data / FUNDUS).exists():
        out["fundus-dev"] = [
            {"id": f"fundus-{r['id']}", "url": r.get("url"), "title": r.get("title"),
             "body": r.get("body"), "source": r.get("publisher"), "date": r.get("date"),
             "author": r.get("author")}
            for r in _records(data / FUNDUS) if (r.get("body") or "").strip()
        ]
    return out


def write(sample: dict[str, list[dict[str, Any]]], folder: Path) -> list[Path]:
    """Write one JSON Lines file per collection; return their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, records in sample.items():
        path = folder / f"{name}.jsonl"
        with path.open("w", encoding="utf-8") as f:
            for r in records:
                f.write(json.dumps(r, ensure_ascii=False) + "\n")
        paths.append(path)
    return paths
