"""Quality gate (as in trafilatura's CI): our scores on every shared set stay above the floors
committed in tests/extraction_baseline.json. The reference extractor does not run here;
`python -m indexer evaluate` shows it side by side."""

from __future__ import annotations

from pathlib import Path

import pytest

from indexer.evaluate import SetResult
from tests.scoring import GATE_SETS, gate_result, read_floors

FLOORS = read_floors()


@pytest.fixture(scope="module")
def results(shared_data: Path) -> dict[str, SetResult]:
    """Evaluate each set once for the whole module, on first use."""
    cache: dict[str, SetResult] = {}

    class Lazy(dict[str, SetResult]):
        def __missing__(self, name: str) -> SetResult:
            cache[name] = gate_result(shared_data, name)
            self[name] = cache[name]
            return cache[name]

    return Lazy()


def test_every_gated_set_has_floors() -> None:
    assert set(FLOORS) == set(GATE_SETS)


@pytest.mark.parametrize("name", sorted(GATE_SETS))
def test_scores_stay_above_the_floors(results: dict[str, SetResult], name: str) -> None:
    result = results[name]
    assert result.ours.failed <= max(1, result.pages // 50), f"{name}: too many pages refused"
    below = {
        measure: (round(getattr(result.ours, measure) or 0.0, 4), floor)
        for measure, floor in FLOORS[name].items()
        if (getattr(result.ours, measure) or 0.0) < floor
    }
    assert not below, f"{name}: scores below their floors (score, floor): {below}"
