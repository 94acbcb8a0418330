"""Test helpers for golden extraction data, and the committed quality floors.

The measures themselves live in `indexer.scoring` (the evaluate command uses the same);
this module reads truth files, runs the gate's evaluations and keeps the baseline. To
raise the floors after an improvement (rewrites tests/extraction_baseline.json):

    python -m tests.scoring
"""

from __future__ import annotations

import gzip
import json
import math
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from indexer.evaluate import (
    Page,
    Prediction,
    SetResult,
    evaluate_set,
    predict_metadata,
    predict_ours,
)
from indexer.scoring import normalized, token_f1, word_tokens

__all__ = ["BASELINE", "normalized", "page_bytes", "read_truth", "token_f1", "tokens"]

BASELINE = Path(__file__).with_name("extraction_baseline.json")
# Floors sit this far below the measured scores: deterministic extraction needs no slack
# for noise, only for honest rule changes that trade a page here for a page there.
TOLERANCE = 0.01
GATED = (
    "body_precision", "body_recall", "body_f1", "body_high", "title_exact", "title_near",
    "date", "author", "source", "language",
)  # fmt: skip

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
# What the gate runs on each set. htmldate-dev's truth is only a date, which does not
# depend on the body: its metadata-only run takes seconds instead of a minute.
GATE_SETS: dict[str, Callable[[Page], Prediction]] = {
    "extraction/aeb": predict_ours,
    "extraction/readability": predict_ours,
    "extraction/fundus-dev": predict_ours,
    "extraction/htmldate-dev": predict_metadata,
    "textdumps/aeb": predict_ours,
}

tokens = word_tokens


def read_truth(folder: Path) -> list[dict[str, Any]]:
    """Return a set's truth records sorted by id (the order tests pick pages in)."""
    with (folder / "truth.jsonl").open(encoding="utf-8") as lines:
        records = [json.loads(line) for line in lines if line.strip()]
    return sorted(records, key=lambda record: record["id"])


def page_bytes(folder: Path, record: dict[str, Any]) -> bytes:
    """Return a truth record's page, decompressed when gzipped."""
    raw = (folder / record["page"]).read_bytes()
    return gzip.decompress(raw) if record["page"].endswith(".gz") else raw


def read_floors() -> dict[str, dict[str, float]]:
    """Return the committed floors: set name -> measure -> lowest acceptable score."""
    baseline = json.loads(BASELINE.read_text(encoding="utf-8"))
    return {name: entry["floors"] for name, entry in baseline["sets"].items()}


def gate_result(shared_data: Path, name: str) -> SetResult:
    """Evaluate our extractor on one shared set the way the gate does (no reference)."""
    return evaluate_set(shared_data / name, reference=False, ours=GATE_SETS[name])


def baseline(results: list[SetResult]) -> dict[str, Any]:
    """Return the baseline document: measured scores and the floors under them."""
    sets = {}
    for result in results:
        scores = {k: getattr(result.ours, k) for k in GATED}
        measured = {k: round(v, 4) for k, v in scores.items() if v is not None}
        floors = {k: math.floor((v - TOLERANCE) * 1000) / 1000 for k, v in measured.items()}
        sets[result.name] = {"pages": result.pages, "measured": measured, "floors": floors}
    return {
        "about": "Extraction quality floors checked by tests/test_evaluate_gate.py; "
        "regenerate with `python -m tests.scoring` (see tests/scoring.py).",
        "tolerance": TOLERANCE,
        "sets": sets,
    }


if __name__ == "__main__":
    results = [gate_result(SHARED_DATA, name) for name in GATE_SETS]
    document = json.dumps(baseline(results), indent=2) + "\n"
    BASELINE.write_text(document, encoding="utf-8")
    sys.stdout.write(f"wrote {BASELINE}\n{document}")
