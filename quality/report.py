"""The evaluation table: one row per query kind and language, one column group per engine."""

from __future__ import annotations

import json
from typing import Any

from quality.evaluate import Scores
from quality.knownitem import KINDS

MIN_ROW = 5  # smaller language groups are shown but not judged against the target


def rows(table: dict[tuple[str, str, str], Scores]) -> list[tuple[str, str]]:
    """Return the (kind, language) rows present: every kind by language, then totals."""
    langs = sorted({lang for (_e, _k, lang) in table if lang != "all"},
                   key=lambda lang: (-table[(next(iter(table))[0], "all", lang)].n, lang))
    out = [(kind, lang) for kind in (*KINDS, "all") for lang in ("all", *langs)
           if any(k == kind and la == lang for (_e, k, la) in table)]
    return out


def markdown(table: dict[tuple[str, str, str], Scores], engines: list[str],
             ours: str = "dateline") -> str:
    """Return the table in Markdown: MRR@10 / success@1 / success@10 per engine."""
    head = "| query kind | language | n | " + " | ".join(
        f"{e} MRR@10 / S@1 / S@10" for e in engines) + " | ours - best baseline (MRR) |"
    lines = [head, "|" + "---|" * (4 + len(engines))]
    for kind, lang in rows(table):
        cells = []
        for e in engines:
            s = table.get((e, kind, lang))
            cells.append("-" if s is None else
                         f"{s.mrr():.3f} / {s.success(1):.3f} / {s.success(10):.3f}")
        n = table[(engines[0], kind, lang)].n
        base = [table[(e, kind, lang)].mrr() for e in engines
                if not e.startswith(ours) and (e, kind, lang) in table]
        margin = table[(ours, kind, lang)].mrr() - max(base) if base else 0.0
        flag = "" if margin >= 0 or n < MIN_ROW else " **below**"
        lines.append(f"| {kind} | {lang} | {n} | " + " | ".join(cells)
                     + f" | {margin:+.3f}{flag} |")
    lines.append("")
    lines.append("Mean time per query (ms): " + ", ".join(
        f"{e} {1000 * table[(e, 'all', 'all')].seconds / max(1, table[(e, 'all', 'all')].n):.1f}"
        for e in engines))
    return "\n".join(lines)


def to_json(table: dict[tuple[str, str, str], Scores]) -> list[dict[str, Any]]:
    return [
        {"engine": e, "kind": k, "language": lang, "n": s.n, "mrr@10": round(s.mrr(), 4),
         "success@1": round(s.success(1), 4), "success@10": round(s.success(10), 4),
         "ms_per_query": round(1000 * s.seconds / max(1, s.n), 2)}
        for (e, k, lang), s in sorted(table.items())
    ]


def dump(path: str, payload: dict[str, Any]) -> None:
    with open(path, "w", encoding="utf-8") as f:
        json.dump(payload, f, ensure_ascii=False, indent=1)
