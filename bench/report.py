"""Summaries, the stdout table and the JSON files under bench/results/."""

from __future__ import annotations

import json
import math
import statistics
from pathlib import Path
from typing import Any

MB = 2**20
VARIANTS = ("full", "no_snippets", "no_facets", "bare")
ENGINES = ("dateline", "fts5")
SINGLE = "single"  # Dateline built with one in-process writer (builds only)
MERGED = "merged"  # Dateline's index after `update --merge` (with --merge)


def percentile(values: list[float], p: float) -> float:
    """Linear-interpolated percentile (p in 0..100) of `values`."""
    s = sorted(values)
    if not s:
        return math.nan
    k = (len(s) - 1) * p / 100
    lo, hi = math.floor(k), math.ceil(k)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def latency_stats(laps: list[list[float]]) -> dict[str, float]:
    flat = [t for lap in laps for t in lap]
    return {
        "n": len(flat),
        "p50_ms": percentile(flat, 50),
        "p95_ms": percentile(flat, 95),
        "p99_ms": percentile(flat, 99),
        "mean_ms": statistics.fmean(flat) if flat else math.nan,
        "max_ms": max(flat) if flat else math.nan,
    }


def _peak(child: dict[str, Any], usage: dict[str, Any]) -> float:
    """Peak RSS of the worker's tree: its own VmHWM, or the sampled tree sum if larger."""
    own = child.get("vm_hwm_bytes") or usage["maxrss_bytes"]
    return float(max(own, usage["tree_peak_bytes"] or 0))


def build_metrics(child: dict[str, Any], usage: dict[str, Any]) -> dict[str, Any]:
    n = child["indexed"]
    return {
        "indexed": n,
        "duplicates": child["duplicates"],
        "skipped": child["skipped"],
        "docs_per_s": n / child["wall_s"],
        "docs_per_cpu_s": n / child["cpu_s"] if child["cpu_s"] else None,
        "index_only_docs_per_s": n / child["index_only_s"] if child["index_only_s"] else None,
        "extract_docs_per_s": n / child["extract_only_s"] if child["extract_only_s"] else None,
        "wall_s": child["wall_s"],
        "cpu_s": child["cpu_s"],
        "child_cpu_s": usage["cpu_s"],
        "peak_rss_mb": _peak(child, usage) / MB,
        "tree_rss_peak_mb": (usage["tree_peak_bytes"] or 0) / MB,
        "tree_pss_peak_mb": (usage.get("tree_pss_peak_bytes") or 0) / MB,
        # Per process: the job's own high-water mark, and each index worker's.
        "job_peak_rss_mb": (child.get("vm_hwm_bytes") or 0) / MB,
        "workers_peak_rss_mb": [(b or 0) / MB for b in child.get("workers_peak_rss_bytes", [])],
        "workers_busy_s": child.get("workers_busy_s"),
        "workers_cpu_s": child.get("workers_cpu_s"),
        "index_mb": child["index_bytes"] / MB,
        "breakdown_s": {
            k.removesuffix("_s"): v
            for k, v in child.items()
            if k.endswith("_s") and k not in ("wall_s", "cpu_s")
        },
        "files": child.get("files"),
    }


def merge_metrics(child: dict[str, Any], usage: dict[str, Any]) -> dict[str, Any]:
    """`update --merge` figures: time, segments, index size, peak RSS of the job's tree."""
    return {
        **{k: child[k] for k in ("outcome", "wall_s", "cpu_s", "indexed", "segments_before",
                                 "segments_after")},
        "index_mb": child["index_bytes"] / MB,
        "tree_rss_peak_mb": _peak(child, usage) / MB,
    }


def by_kind(laps: list[list[float]], kinds: list[str]) -> dict[str, dict[str, float]]:
    """Latency stats per query kind (which kinds make the tail)."""
    groups: dict[str, list[list[float]]] = {}
    for lap in laps:
        per: dict[str, list[float]] = {}
        for kind, t in zip(kinds, lap, strict=True):
            per.setdefault(kind, []).append(t)
        for kind, ts in per.items():
            groups.setdefault(kind, []).append(ts)
    return {kind: latency_stats(g) for kind, g in sorted(groups.items())}


def query_metrics(
    child: dict[str, Any], usage: dict[str, Any], kinds: list[str] | None = None
) -> dict[str, Any]:
    full = child["times_ms"].get("full")
    return {
        "full_by_kind": by_kind(full, kinds) if kinds and full else {},
        "open_ms": child["open_ms"],
        "first_query_ms": child["first_query_ms"],
        "errors": child["errors"],
        "peak_rss_mb": _peak(child, usage) / MB,
        "stubbed": child.get("stubbed", {}),
        "variants": {v: latency_stats(laps) for v, laps in child["times_ms"].items()},
        "cpu_variants": {v: latency_stats(laps) for v, laps in child.get("cpu_ms", {}).items()},
    }


def totals_check(ours: list[int | None], theirs: list[int | None]) -> dict[str, Any]:
    """How alike the two engines' match counts are (they analyse text differently)."""
    pairs = [(a, b) for a, b in zip(ours, theirs, strict=True) if a is not None and b is not None]
    both = [a / b for a, b in pairs if a and b]
    return {
        "queries": len(ours),
        "dateline_zero": sum(1 for a, _ in pairs if not a),
        "fts5_zero": sum(1 for _, b in pairs if not b),
        "median_total_ratio": statistics.median(both) if both else None,
    }


def _get(d: Any, path: str) -> Any:
    for key in path.split("."):
        if d is None:
            return None
        d = d.get(key)
    return d


def spread(runs: list[dict[str, Any]], path: str) -> dict[str, float] | None:
    vals = [v for v in (_get(r, path) for r in runs) if isinstance(v, int | float)]
    vals = [v for v in vals if math.isfinite(v)]
    if not vals:
        return None
    return {"median": statistics.median(vals), "min": min(vals), "max": max(vals), "n": len(vals)}


SUMMARY_PATHS = [
    "build.docs_per_s",
    "build.docs_per_cpu_s",
    "build.index_only_docs_per_s",
    "build.extract_docs_per_s",
    "build.wall_s",
    "build.cpu_s",
    "build.peak_rss_mb",
    "build.tree_rss_peak_mb",
    "build.job_peak_rss_mb",
    "build.index_mb",
    "query.open_ms",
    "query.peak_rss_mb",
    *(f"query.variants.{v}.{p}" for v in VARIANTS for p in ("p50_ms", "p95_ms", "p99_ms")),
    *(f"query.cpu_variants.{v}.{p}" for v in VARIANTS for p in ("p50_ms", "p95_ms", "p99_ms")),
]


def _ratios(ours: dict[str, Any], theirs: dict[str, Any], paths: list[str]) -> dict[str, float]:
    """Median over median for each path both sides have (and the other's is non-zero)."""
    out = {}
    for p in paths:
        a, b = ours.get(p), theirs.get(p)
        if a and b and b["median"]:
            out[p] = a["median"] / b["median"]
    return out


def summarize(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Median and range across repeats of every headline figure, and Dateline/FTS5 ratios."""
    out: dict[str, Any] = {}
    for engine in ENGINES:
        per = [r[engine] for r in runs if engine in r]
        out[engine] = {p: spread(per, p) for p in SUMMARY_PATHS}
    out["ratio_dateline_to_fts5"] = _ratios(out["dateline"], out["fts5"], SUMMARY_PATHS)
    merged = [r[MERGED] for r in runs if MERGED in r]
    if merged:
        paths = ["merge.wall_s", "merge.cpu_s", "merge.tree_rss_peak_mb", "merge.index_mb",
                 *(p for p in SUMMARY_PATHS if p.startswith("query."))]
        out[MERGED] = {p: spread(merged, p) for p in paths}
        out["ratio_merged_to_fts5"] = _ratios(out[MERGED], out["fts5"], paths)
    single = [r[SINGLE] for r in runs if SINGLE in r]
    if single:
        paths = [p for p in SUMMARY_PATHS if p.startswith("build.")]
        out[SINGLE] = {p: spread(single, p) for p in paths}
        out["ratio_dateline_to_single"] = _ratios(out["dateline"], out[SINGLE], paths)
    return out


def _fmt(x: float | None, digits: int = 0) -> str:
    if x is None or not math.isfinite(x):
        return "-"
    if digits == 0:
        return f"{x:,.0f}"
    return f"{x:,.{digits}f}"


def _cell(s: dict[str, float] | None, digits: int) -> str:
    if not s:
        return "-"
    text = _fmt(s["median"], digits)
    if s["n"] > 1:
        text += f" ({_fmt(s['min'], digits)}-{_fmt(s['max'], digits)})"
    return text


ROWS = [
    ("build end to end, docs/s", "build.docs_per_s", 0),
    ("  per CPU-second, docs/s", "build.docs_per_cpu_s", 0),
    ("  index only, docs/s", "build.index_only_docs_per_s", 0),
    ("  extraction only, docs/s", "build.extract_docs_per_s", 0),
    ("build wall, s", "build.wall_s", 1),
    ("build CPU, s", "build.cpu_s", 1),
    ("build peak RSS, MB", "build.peak_rss_mb", 0),
    ("  job process alone, MB", "build.job_peak_rss_mb", 0),
    ("index size, MB", "build.index_mb", 0),
    ("searcher open, ms", "query.open_ms", 1),
    *(
        (f"query {v} p{p}, ms", f"query.variants.{v}.p{p}_ms", 1)
        for v in VARIANTS
        for p in ("50", "95", "99")
    ),
    *(
        (f"query full CPU p{p}, ms", f"query.cpu_variants.full.p{p}_ms", 1)
        for p in ("50", "95", "99")
    ),
    ("query process peak RSS, MB", "query.peak_rss_mb", 0),
]


def table(result: dict[str, Any]) -> str:
    """Render the results as a plain-text table (also pasted into README)."""
    lines = []
    for size in result["sizes"]:
        s = size["summary"]
        head = (
            f"size {size['label']}: {size['items']:,} inputs, "
            f"{size['runs'][0]['dateline']['build']['indexed']:,} articles indexed, "
            f"{len(size['runs'])} run(s); median (min-max)"
        )
        lines.append(head)
        single = s.get(SINGLE) or {}
        to_single = s.get("ratio_dateline_to_single") or {}
        extra = f" {'single writer':>20} {'Dateline/single':>15}" if single else ""
        lines.append(f"  {'':32} {'Dateline':>24} {'FTS5':>24} {'Dateline/FTS5':>14}{extra}")
        for label, path, digits in ROWS:
            a, b = s["dateline"].get(path), s["fts5"].get(path)
            ratio = s["ratio_dateline_to_fts5"].get(path)
            line = (
                f"  {label:32} {_cell(a, digits):>24} {_cell(b, digits):>24} "
                f"{(_fmt(ratio, 2) + 'x') if ratio else '-':>14}"
            )
            if single and path in single:
                r = to_single.get(path)
                line += f" {_cell(single[path], digits):>20} {(_fmt(r, 2) + 'x') if r else '-':>15}"
            lines.append(line.rstrip())
        merged = s.get(MERGED)
        if merged:
            m = size["runs"][0][MERGED]["merge"]
            lines.append(
                f"  merged (`update --merge`, {m['segments_before']} -> {m['segments_after']} "
                f"segments): {_cell(merged['merge.wall_s'], 1)} s, CPU "
                f"{_cell(merged['merge.cpu_s'], 1)} s, peak RSS "
                f"{_cell(merged['merge.tree_rss_peak_mb'], 0)} MB, index "
                f"{_cell(merged['merge.index_mb'], 0)} MB"
            )
            for v in VARIANTS:
                cells = [_cell(merged.get(f"query.variants.{v}.p{p}_ms"), 1)
                         for p in ("50", "95", "99")]
                lines.append(f"    merged query {v} p50 / p95 / p99, ms: {' / '.join(cells)}")
        chk = size["runs"][0].get("totals_check")
        if chk:
            lines.append(
                f"  match counts: median Dateline/FTS5 {_fmt(chk['median_total_ratio'], 2)}, "
                f"zero hits: Dateline {chk['dateline_zero']}, FTS5 {chk['fts5_zero']} "
                f"of {chk['queries']} queries"
            )
        lines.append("")
    web = result.get("web") or {}
    if "skipped" in web:
        lines.append(f"web: skipped ({web['skipped']})")
    for endpoint, d in (web.get("endpoints") or {}).items():
        lines.append(
            f"web {endpoint} ({web['server']['workers']} workers x {web['server']['threads']} "
            f"threads, wrk {web['load']['connections']} connections, {web['load']['seconds']} s): "
            f"{d['rps']:,.0f} req/s, p50 {d['p50_ms']:.1f} ms, p90 {d['p90_ms']:.1f} ms, "
            f"p99 {d['p99_ms']:.1f} ms, non-2xx {d['non2xx']}, socket errors "
            f"{d['socket_errors']}, server peak RSS sum {d['server_tree_rss_peak_mb']:,.0f} MB"
            f" (PSS {d.get('server_tree_pss_peak_mb', 0):,.0f} MB)"
        )
    base = web.get("baseline") or {}
    if "error" in base:
        lines.append(f"web FTS5 baseline: failed ({base['error']})")
    for endpoint, d in (base.get("endpoints") or {}).items():
        ratio = (base.get("ratios") or {}).get(endpoint) or {}
        lines.append(
            f"web {endpoint}, FTS5 baseline (bench.fts5_web, same server and load): "
            f"{d['rps']:,.0f} req/s, p50 {d['p50_ms']:.1f} ms, p99 {d['p99_ms']:.1f} ms, "
            f"non-2xx {d['non2xx']}; Dateline / FTS5: req/s {_fmt(ratio.get('rps'), 2)}x, "
            f"p99 {_fmt(ratio.get('p99_ms'), 2)}x"
        )
    return "\n".join(lines).rstrip() + "\n"


def _finite(x: Any) -> Any:
    """Replace NaN and infinities (JSON has neither) with None, recursively."""
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if isinstance(x, dict):
        return {k: _finite(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_finite(v) for v in x]
    return x


def write(result: dict[str, Any], out_dir: Path, stamp: str) -> Path:
    """Write the results as bench-STAMP.json and latest.json under `out_dir`."""
    out_dir.mkdir(parents=True, exist_ok=True)
    text = json.dumps(_finite(result), indent=1, ensure_ascii=False, allow_nan=False, default=str)
    path = out_dir / f"bench-{stamp}.json"
    path.write_text(text, encoding="utf-8")
    (out_dir / "latest.json").write_text(text, encoding="utf-8")
    return path
