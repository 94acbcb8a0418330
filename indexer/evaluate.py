"""Measure extraction quality on a labelled set, ours beside the reference extractor.

A set is a folder with `truth.jsonl` (one JSON object per page: `id`, `page` relative to
the folder, and the true fields) and the pages themselves (`.html`, `.txt`, optionally
gzipped), the layout of ../shared/data/extraction/* and ../shared/data/textdumps/*.

Every page goes through our extractor (`indexer.extract.extract`) and, for HTML, through
the reference: trafilatura's `bare_extraction` with its default settings and metadata.
Both get the same bytes and nothing else (no URL: an indexed file has none either). The
measures are those of `indexer.scoring`, averaged over the pages whose truth has the
field; speed is extraction time only (reading and gunzipping files is not counted).
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import click

from indexer.decoding import declared_charset, decode_bytes
from indexer.errors import ExtractionError
from indexer.evaluate_report import (
    HIGH_F1,
    LOW_F1,
    REFERENCE_NAME,
    check_targets,
    format_result,
    format_targets,
)
from indexer.extract import detect_kind, extract
from indexer.html import html_metadata
from indexer.metadata import normalize_language
from indexer.scoring import (
    authors_match,
    language_match,
    precision_recall_f1,
    same_day,
    source_match,
    title_match,
)
from search.models import Article


@dataclass(frozen=True)
class Page:
    """One labelled page: its bytes, its kind and the true fields."""

    id: str
    path: str
    kind: str
    data: bytes
    truth: dict[str, Any]


@dataclass(frozen=True)
class Prediction:
    """What one extractor found on one page (empty fields when it found nothing)."""

    id: str
    title: str = ""
    body: str = ""
    published: str | None = None  # ISO 8601, in the page's own time zone
    authors: tuple[str, ...] = ()
    source: str | None = None
    section: str | None = None
    language: str | None = None
    summary: str = ""
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON line written by --predictions."""
        d = asdict(self)
        d["authors"] = list(self.authors)
        d["author"] = "; ".join(self.authors) or None
        return d


@dataclass(frozen=True)
class Scores:
    """One extractor's scores on one set; a rate is None when the truth lacks the field."""

    pages: int
    seconds: float
    body_precision: float | None = None
    body_recall: float | None = None
    body_f1: float | None = None
    body_high: float | None = None  # share of pages with F1 >= HIGH_F1
    body_low: float | None = None  # share of pages with F1 <= LOW_F1
    title_exact: float | None = None
    title_near: float | None = None
    date: float | None = None
    author: float | None = None
    source: float | None = None
    language: float | None = None
    failed: int = 0  # pages the extractor refused or crashed on

    @property
    def pages_per_s(self) -> float:
        return self.pages / self.seconds if self.seconds > 0 else 0.0


@dataclass(frozen=True)
class SetResult:
    """Scores of our extractor (and the reference's, when it ran) on one set."""

    name: str
    pages: int
    ours: Scores
    reference: Scores | None
    predictions: tuple[Prediction, ...] = field(default=(), repr=False)

    def to_dict(self) -> dict[str, Any]:
        def scores(s: Scores | None) -> dict[str, Any] | None:
            return None if s is None else {**asdict(s), "pages_per_s": round(s.pages_per_s, 1)}

        return {
            "set": self.name,
            "pages": self.pages,
            "ours": scores(self.ours),
            "reference": scores(self.reference),
        }


# --- reading a set --------------------------------------------------------------------


def set_name(folder: Path) -> str:
    """Name a set by its last two folders ("extraction/aeb", "textdumps/aeb")."""
    folder = folder.resolve()
    return f"{folder.parent.name}/{folder.name}"


def load_set(folder: Path) -> list[Page]:
    """Read a set's truth and page bytes, sorted by id."""
    with (folder / "truth.jsonl").open(encoding="utf-8") as lines:
        records = [json.loads(line) for line in lines if line.strip()]
    pages = []
    for record in sorted(records, key=lambda r: str(r["id"])):
        kind = detect_kind(record["page"])
        if kind is None:
            raise click.ClickException(f"{folder}: unknown page type {record['page']!r}")
        raw = (folder / record["page"]).read_bytes()
        data = gzip.decompress(raw) if record["page"].endswith(".gz") else raw
        pages.append(Page(str(record["id"]), record["page"], kind, data, record))
    return pages


# --- the two extractors ---------------------------------------------------------------


def predict_ours(page: Page) -> Prediction:
    """Run our extractor on one page."""
    try:
        items = list(extract(page.path, page.data, page.kind))
    except ExtractionError as error:
        return Prediction(page.id, error=error.reason)
    article = next((item for item in items if isinstance(item, Article)), None)
    if article is None:
        return Prediction(page.id, error="no article")
    return Prediction(
        id=page.id,
        title=article.title,
        body=article.body,
        published=article.published.isoformat() if article.published else None,
        authors=article.authors,
        source=article.source,
        section=article.section,
        language=article.language,
        summary=article.summary,
    )


def predict_metadata(page: Page) -> Prediction:
    """Run our HTML metadata cascade only (no body): the fast path for date-only sets.

    Dates, titles and authors do not depend on the body, so this gives the same values as
    `predict_ours` on pages whose body is found, in a fraction of the time.
    """
    if page.kind != "html":
        return predict_ours(page)
    try:
        text = decode_bytes(page.data, declared_charset(page.data))
        fields = html_metadata(text, dt.datetime.now(dt.timezone.utc))
    except ExtractionError as error:
        return Prediction(page.id, error=error.reason)
    return Prediction(
        id=page.id,
        title=fields.title,
        published=fields.published.isoformat() if fields.published else None,
        authors=fields.authors,
        source=fields.source,
        section=fields.section,
        language=normalize_language(fields.language),
        summary=fields.summary,
    )


def predict_reference(page: Page) -> Prediction:
    """Run trafilatura with default settings and metadata on one HTML page."""
    import trafilatura  # the reference; our own extractor uses it through indexer.maintext

    try:
        document = trafilatura.bare_extraction(page.data, with_metadata=True)
    except (ValueError, TypeError, RecursionError) as error:
        return Prediction(page.id, error=f"{type(error).__name__}: {error}")
    if document is None:
        return Prediction(page.id, error="nothing extracted")
    found = document if isinstance(document, dict) else document.as_dict()
    author = found.get("author") or ""
    categories = found.get("categories") or []
    return Prediction(
        id=page.id,
        title=found.get("title") or "",
        body=found.get("text") or "",
        published=found.get("date") or None,
        authors=tuple(a.strip() for a in author.split(";") if a.strip()),
        source=found.get("sitename") or None,
        section=categories[0] if categories else None,
        language=found.get("language") or None,
        summary=found.get("description") or "",
    )


# --- scoring --------------------------------------------------------------------------


def _rate(values: Sequence[bool]) -> float | None:
    return sum(values) / len(values) if values else None


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def _present(pages: Sequence[Page], key: str) -> list[int]:
    """Return the indexes of pages whose truth has the field (NaN marks "no date")."""
    return [
        i
        for i, page in enumerate(pages)
        if isinstance(page.truth.get(key), str) and page.truth[key].strip()
    ]


def score(pages: Sequence[Page], predictions: Sequence[Prediction], seconds: float) -> Scores:
    """Score predictions (in the order of `pages`) against the pages' truth."""
    values: dict[str, Any] = {}
    with_body = _present(pages, "body")
    if with_body:
        prf = [precision_recall_f1(predictions[i].body, pages[i].truth["body"]) for i in with_body]
        f1s = [f for _, _, f in prf]
        values.update(
            body_precision=_mean([p for p, _, _ in prf]),
            body_recall=_mean([r for _, r, _ in prf]),
            body_f1=_mean(f1s),
            body_high=_rate([f >= HIGH_F1 for f in f1s]),
            body_low=_rate([f <= LOW_F1 for f in f1s]),
        )
    with_title = _present(pages, "title")
    if with_title:
        matches = [title_match(predictions[i].title, pages[i].truth["title"]) for i in with_title]
        values.update(
            title_exact=_rate([e for e, _ in matches]), title_near=_rate([n for _, n in matches])
        )
    checks: dict[str, tuple[str, Callable[[Prediction, Any], bool]]] = {
        "date": ("date", lambda p, t: same_day(p.published, t)),
        "author": ("author", lambda p, t: authors_match(p.authors, t)),
        "source": ("publisher", lambda p, t: source_match(p.source, t)),
        "language": ("language", lambda p, t: language_match(p.language, t)),
    }
    for name, (key, check) in checks.items():
        present = _present(pages, key)
        if present:
            values[name] = _rate([check(predictions[i], pages[i].truth[key]) for i in present])
    failed = sum(1 for p in predictions if p.error)
    return Scores(pages=len(pages), seconds=seconds, failed=failed, **values)


def run(
    pages: Sequence[Page], extractors: Sequence[Callable[[Page], Prediction]]
) -> list[tuple[list[Prediction], float]]:
    """Run extractors over the pages; return each one's predictions and extraction time.

    The extractors take turns on each page, so a machine busy with other work slows them
    alike; each first runs once untimed on the first page (loading models, warming caches).
    """
    for predict in extractors:
        if pages:
            predict(pages[0])
    results: list[tuple[list[Prediction], float]] = [([], 0.0) for _ in extractors]
    for page in pages:
        for index, predict in enumerate(extractors):
            start = time.perf_counter()
            prediction = predict(page)
            predictions, seconds = results[index]
            predictions.append(prediction)
            results[index] = (predictions, seconds + time.perf_counter() - start)
    return results


def evaluate_set(
    folder: Path,
    *,
    reference: bool = True,
    limit: int | None = None,
    ours: Callable[[Page], Prediction] = predict_ours,
) -> SetResult:
    """Evaluate our extractor (and the reference, for HTML sets) on one set folder."""
    pages = load_set(folder)[:limit]
    with_reference = reference and bool(pages) and all(page.kind == "html" for page in pages)
    extractors = [ours, predict_reference] if with_reference else [ours]
    results = run(pages, extractors)
    predictions, our_time = results[0]
    theirs = score(pages, *results[1]) if with_reference else None
    mine = score(pages, predictions, our_time)
    return SetResult(set_name(folder), len(pages), mine, theirs, tuple(predictions))


@click.command("evaluate")
@click.argument(
    "set_dirs",
    nargs=-1,
    required=True,
    metavar="SET_DIR...",
    type=click.Path(exists=True, file_okay=False),
)
@click.option(
    "--json",
    "json_path",
    type=click.Path(dir_okay=False),
    help="Also write the scores as JSON to this file.",
)
@click.option(
    "--predictions",
    "predictions_path",
    type=click.Path(dir_okay=False),
    help="Write what our extractor found on each page as JSON lines.",
)
@click.option(
    "--reference/--no-reference",
    default=True,
    show_default=True,
    help=f"Also run the reference extractor ({REFERENCE_NAME}) on HTML sets.",
)
@click.option("--limit", type=click.IntRange(min=1), help="Only the first N pages by id.")
def evaluate_cmd(
    set_dirs: tuple[str, ...],
    json_path: str | None,
    predictions_path: str | None,
    reference: bool,
    limit: int | None,
) -> None:
    """Score extraction on labelled sets (SET_DIR: truth.jsonl + pages), ours vs reference."""
    results = []
    for folder in set_dirs:
        result = evaluate_set(Path(folder), reference=reference, limit=limit)
        results.append(result)
        click.echo(format_result(result) + "\n")
    checks = check_targets(results)
    if checks:
        click.echo(format_targets(checks))
    if json_path:
        report = {
            "reference": REFERENCE_NAME,
            "sets": [r.to_dict() for r in results],
            "targets": [{"target": text, "met": ok} for text, ok in checks],
        }
        Path(json_path).write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    if predictions_path:
        with Path(predictions_path).open("w", encoding="utf-8") as out:
            for result in results:
                for prediction in result.predictions:
                    line = {"set": result.name, **prediction.to_dict()}
                    out.write(json.dumps(line, ensure_ascii=False) + "\n")
