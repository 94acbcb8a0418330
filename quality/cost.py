"""`python -m quality.cost`: what the exact-form fields cost to index, measured as ratios.

Indexes the same articles (the relevance sample's, read back from its index) with
the full schema and with the schema minus `search.schema.EXACT_FIELDS`, alternating
several times in one process (single writer, one segment), and prints the time and
size of each. Ratios from one run are what to compare: absolute times on a shared
machine are noise.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

import click
from whoosh import index as whoosh_index

from quality.evaluate import docs_of
from search.models import Article
from search.schema import EXACT_FIELDS, build_schema, to_document

ROOT = Path(__file__).resolve().parents[1]


def _articles(index_dir: Path, n: int) -> list[Article]:
    out = []
    for d in docs_of(index_dir):
        out.append(Article(id=d.id, title=d.title, summary=d.summary, body=d.body,
                           language=None if d.language == "und" else d.language))
        if len(out) >= n:
            break
    return out


def _build(articles: list[Article], folder: Path, exact: bool) -> tuple[float, int]:
    schema = build_schema()
    if not exact:
        for field in EXACT_FIELDS.values():
            schema.remove(field)
    ix = whoosh_index.create_in(str(folder), schema)
    t0 = time.perf_counter()
    w = ix.writer(limitmb=512)
    for a in articles:
        doc = to_document(a)
        if not exact:
            for field in EXACT_FIELDS.values():
                doc.pop(field, None)
        w.add_document(**doc)
    w.commit()
    seconds = time.perf_counter() - t0
    size = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
    return seconds, size


@click.command()
@click.option("--index", "index_dir", type=click.Path(path_type=Path),
              default=ROOT / "var" / "quality" / "index", show_default=True,
              help="An index to read the articles from (the relevance sample's).")
@click.option("-n", default=5000, show_default=True, help="Articles to index.")
@click.option("--rounds", default=3, show_default=True, help="Builds of each kind.")
def main(index_dir: Path, n: int, rounds: int) -> None:
    """Index the same articles with and without the exact-form fields; print the ratios."""
    articles = _articles(index_dir, n)
    times: dict[bool, list[float]] = {True: [], False: []}
    sizes: dict[bool, int] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(rounds):
            for exact in (False, True) if r % 2 == 0 else (True, False):
                folder = Path(tmp) / f"{r}-{exact}"
                folder.mkdir()
                seconds, sizes[exact] = _build(articles, folder, exact)
                times[exact].append(seconds)
    without, with_ = statistics.median(times[False]), statistics.median(times[True])
    click.echo(f"{len(articles)} articles, {rounds} builds each (median):")
    click.echo(f"  without exact fields: {without:.1f} s, {sizes[False] / 1e6:.1f} MB")
    click.echo(f"  with exact fields:    {with_:.1f} s, {sizes[True] / 1e6:.1f} MB")
    click.echo(f"  time x{with_ / without:.3f}, size x{sizes[True] / sizes[False]:.3f}")


if __name__ == "__main__":
    main()
