"""Test helpers for golden extraction data: token F1 and truth files."""

from __future__ import annotations

import gzip
import json
import re
from collections import Counter
from pathlib import Path
from typing import Any


def tokens(text: str) -> Counter[str]:
    """Lowercased \\w+ tokens with counts (bag of words)."""
    return Counter(re.findall(r"\w+", text.lower()))


def token_f1(ours: str, truth: str) -> float:
    """Bag-of-words F1 of an extracted text against the true text."""
    found, wanted = tokens(ours), tokens(truth)
    overlap = sum((found & wanted).values())
    if not overlap:
        return 1.0 if not found and not wanted else 0.0
    precision = overlap / sum(found.values())
    recall = overlap / sum(wanted.values())
    return 2 * precision * recall / (precision + recall)


def read_truth(folder: Path) -> list[dict[str, Any]]:
    """Return a set's truth records sorted by id (the order tests pick pages in)."""
    with (folder / "truth.jsonl").open(encoding="utf-8") as lines:
        records = [json.loads(line) for line in lines if line.strip()]
    return sorted(records, key=lambda record: record["id"])


def page_bytes(folder: Path, record: dict[str, Any]) -> bytes:
    """Return a truth record's page, decompressed when gzipped."""
    raw = (folder / record["page"]).read_bytes()
    return gzip.decompress(raw) if record["page"].endswith(".gz") else raw


def normalized(text: str) -> str:
    """Compare titles the way a reader would: whitespace runs (NBSP too) and case ignored."""
    return " ".join(text.split()).casefold()
