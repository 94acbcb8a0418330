"""The benchmark harness runs end to end in smoke mode and writes sane JSON (no timings asserted)."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]


def _numbers(d: Any, path: str = "") -> list[tuple[str, float]]:
    if isinstance(d, dict):
        return [n for k, v in d.items() for n in _numbers(v, f"{path}.{k}")]
    if isinstance(d, list):
        return [n for i, v in enumerate(d) for n in _numbers(v, f"{path}[{i}]")]
    if isinstance(d, int | float) and not isinstance(d, bool):
        return [(path, float(d))]
    return []


@pytest.fixture(scope="module")
def smoke(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("bench")
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench",
            "--smoke",
            "--merge",
            "--data",
            str(shared_data),
            "--out",
            str(out),
            "--work",
            str(out),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-3000:]
    assert "Dateline/FTS5" in run.stdout  # the table was printed
    files = sorted(out.glob("bench-*.json"))
    assert len(files) == 1 and (out / "latest.json").is_file()
    assert (out / "latest.json").read_text(encoding="utf-8") == files[0].read_text(encoding="utf-8")
    return json.loads(files[0].read_text(encoding="utf-8"))


def test_top_level_shape(smoke: dict[str, Any]) -> None:
    assert {"schema", "machine", "options", "corpus", "queries", "sizes", "web"} <= smoke.keys()
    assert smoke["web"] == {"skipped": "--skip-web"}
    assert len(smoke["queries"]) == 20
    assert {q["kind"] for q in smoke["queries"]} >= {"single", "phrase", "facet", "newest"}
    assert [s["label"] for s in smoke["sizes"]] == ["300"]


def test_both_engines_measured_with_sane_values(smoke: dict[str, Any]) -> None:
    run = smoke["sizes"][0]["runs"][0]
    for engine in ("dateline", "fts5"):
        build, query = run[engine]["build"], run[engine]["query"]
        assert 250 <= build["indexed"] <= 300
        for key in (
            "docs_per_s",
            "index_only_docs_per_s",
            "extract_docs_per_s",
            "wall_s",
            "cpu_s",
            "peak_rss_mb",
            "index_mb",
        ):
            assert build[key] > 0 and math.isfinite(build[key]), (engine, key)
        assert set(query["variants"]) == {"full", "no_snippets", "no_facets", "bare"}
        for stats in query["variants"].values():
            assert stats["n"] == 20
            assert 0 < stats["p50_ms"] <= stats["p95_ms"] <= stats["p99_ms"] <= stats["max_ms"]
        assert query["errors"] == 0
    # Queries are drawn from the indexed articles: nearly all must find something (a few
    # may not when the analysis changes, e.g. a word becomes a stop word).
    assert run["totals_check"]["dateline_zero"] <= len(smoke["queries"]) // 4


def test_summary_has_ratios(smoke: dict[str, Any]) -> None:
    ratios = smoke["sizes"][0]["summary"]["ratio_dateline_to_fts5"]
    for key in ("build.docs_per_s", "query.variants.full.p50_ms", "build.peak_rss_mb"):
        assert ratios[key] > 0 and math.isfinite(ratios[key])


def test_every_number_is_finite_and_not_negative(smoke: dict[str, Any]) -> None:
    bad = [(p, v) for p, v in _numbers(smoke) if not math.isfinite(v) or v < 0]
    # A load average or a remainder of timers ("other") may be tiny but never negative.
    assert not [b for b in bad if "other" not in b[0]], bad


def test_single_writer_build_is_the_comparison_point(smoke: dict[str, Any]) -> None:
    run = smoke["sizes"][0]["runs"][0]
    single, dateline = run["single"]["build"], run["dateline"]["build"]
    # The same files and the same job, so the same articles: only the writer differs.
    assert single["indexed"] == dateline["indexed"]
    assert single["workers_peak_rss_mb"] == []  # DATELINE_INDEX_WORKERS=0: no workers
    ratios = smoke["sizes"][0]["summary"]["ratio_dateline_to_single"]
    assert ratios["build.docs_per_s"] > 0 and math.isfinite(ratios["build.docs_per_s"])


def test_merged_index_is_timed_and_queried(smoke: dict[str, Any]) -> None:
    merged = smoke["sizes"][0]["runs"][0]["merged"]
    m = merged["merge"]
    # 300 articles are written in-process, in one segment: the merge is then a no-op.
    assert m["segments_after"] == 1 and m["outcome"] in ("published", "no-op")
    assert m["indexed"] == smoke["sizes"][0]["runs"][0]["dateline"]["build"]["indexed"]
    assert m["wall_s"] > 0 and m["tree_rss_peak_mb"] > 0 and m["index_mb"] > 0
    assert merged["query"]["errors"] == 0
    assert all(v["n"] == 20 for v in merged["query"]["variants"].values())
    summary = smoke["sizes"][0]["summary"]
    assert summary["merged"]["query.variants.full.p50_ms"]["median"] > 0
    assert summary["ratio_merged_to_fts5"]["query.variants.full.p50_ms"] > 0


def test_build_stages_are_timed_where_they_run(smoke: dict[str, Any]) -> None:
    parts = smoke["sizes"][0]["runs"][0]["dateline"]["build"]["breakdown_s"]
    # Reading and extraction happen in the job process, whichever writer indexes.
    assert parts["read"] > 0 and parts["extract"] > 0 and parts["index_only"] > 0
