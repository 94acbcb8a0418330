"""Index-building jobs: read sources, extract articles, write and publish a generation.

A job never touches the served generation: it writes a new one beside it,
checks it, and only then replaces the CURRENT pointer. If it fails or is
interrupted, the half-written generation is removed and search goes on
serving the previous one.
"""

from __future__ import annotations

import datetime as dt
import logging
import shutil
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from whoosh import index as whoosh_index

from indexer.extract import ExtractionError, Skipped, extract
from indexer.sources import SourceFile, fingerprint, iter_paths, read_source
from search.index import IndexLocation
from search.models import Article
from search.schema import SCHEMA_VERSION, to_document

log = logging.getLogger(__name__)

KEEP_GENERATIONS = 2  # the served one and one to roll back to
WRITER_LIMIT_MB = 256


@dataclass(frozen=True)
class JobReport:
    """What a job did; printed by the CLI and stored in the generation's manifest."""

    job: str
    generation: str | None
    indexed: int
    updated: int
    duplicates: int
    skipped: tuple[Skipped, ...]
    files: int
    duration_s: float
    published: bool
    message: str = ""

    @property
    def docs_per_s(self) -> float:
        return self.indexed / self.duration_s if self.duration_s > 0 else 0.0

    def skipped_by_reason(self) -> dict[str, int]:
        """Group skip reasons, ignoring details after a colon ("broken gzip: ...")."""
        return dict(Counter(s.reason.split(":")[0] for s in self.skipped).most_common())

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["skipped"] = [asdict(s) for s in self.skipped]
        d["skipped_by_reason"] = self.skipped_by_reason()
        d["docs_per_s"] = round(self.docs_per_s, 1)
        d["duration_s"] = round(self.duration_s, 3)
        return d


@dataclass
class Progress:
    """Callbacks a front end may pass to show progress; all optional."""

    on_file: Callable[[str], None] = lambda path: None
    on_article: Callable[[Article], None] = lambda article: None
    on_skip: Callable[[Skipped], None] = lambda skipped: None


@dataclass
class _Tally:
    indexed: int = 0
    duplicates: int = 0
    files: int = 0
    skipped: list[Skipped] = field(default_factory=list)


def iter_articles(
    sources: Iterable[str | Path], tally: _Tally, progress: Progress
) -> Iterator[Article]:
    """Yield articles from every source file; record what is skipped and why."""
    for path in iter_paths(sources):
        tally.files += 1
        progress.on_file(str(path))
        src = read_source(path)
        if isinstance(src, Skipped):
            tally.skipped.append(src)
            progress.on_skip(src)
            continue
        yield from _extract_reporting(src, tally, progress)


def _extract_reporting(src: SourceFile, tally: _Tally, progress: Progress) -> Iterator[Article]:
    try:
        for item in extract(src.path, src.data, src.kind):
            if isinstance(item, Skipped):
                tally.skipped.append(item)
                progress.on_skip(item)
            else:
                yield item
    except ExtractionError as e:
        skip = Skipped(src.path, e.reason)
        tally.skipped.append(skip)
        progress.on_skip(skip)
    except Exception as e:  # noqa: BLE001 - the one place a bad file is reported and skipped
        log.exception("extractor failed on %s", src.path)
        skip = Skipped(src.path, f"extractor error: {type(e).__name__}: {e}")
        tally.skipped.append(skip)
        progress.on_skip(skip)


def is_stale(location: IndexLocation, sources: list[str | Path]) -> bool:
    """True when the served generation was not built from these exact files and schema."""
    name = location.current_name()
    if name is None:
        return True
    try:
        manifest = location.generation(name).manifest
    except Exception:  # noqa: BLE001 - an unreadable manifest means "rebuild"
        return True
    return (
        manifest.get("schema_version") != SCHEMA_VERSION
        or manifest.get("fingerprint") != fingerprint(iter_paths(sources))
    )


def build(
    sources: list[str | Path],
    index_dir: str | Path,
    *,
    progress: Progress | None = None,
) -> JobReport:
    """Build a complete new generation from `sources` and publish it."""
    progress = progress or Progress()
    location = IndexLocation(index_dir)
    location.root.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    source_fp = fingerprint(iter_paths(sources))
    name, path, ix = location.new_generation()
    tally = _Tally()
    seen: dict[str, str] = {}
    try:
        writer = ix.writer(limitmb=WRITER_LIMIT_MB)
        try:
            for article in iter_articles(sources, tally, progress):
                if article.id in seen:
                    tally.duplicates += 1
                    continue
                seen[article.id] = article.path or ""
                writer.add_document(**to_document(article))
                tally.indexed += 1
                progress.on_article(article)
        except BaseException:
            writer.cancel()
            raise
        writer.commit()
        _verify(path, tally.indexed)
        duration = time.perf_counter() - started
        report = JobReport(
            job="build",
            generation=name,
            indexed=tally.indexed,
            updated=0,
            duplicates=tally.duplicates,
            skipped=tuple(tally.skipped),
            files=tally.files,
            duration_s=duration,
            published=True,
        )
        location.write_manifest(
            path,
            {
                "generation": name,
                "built_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
                "doc_count": tally.indexed,
                "sources": [str(Path(s).resolve()) for s in sources],
                "fingerprint": source_fp,
                "report": report.to_dict(),
            },
        )
        location.publish(name)
    except BaseException:
        shutil.rmtree(path, ignore_errors=True)
        raise
    _prune(location, keep=name)
    return report


def _verify(path: Path, expected: int) -> None:
    """Reopen the new generation and check it holds what was written."""
    ix = whoosh_index.open_dir(str(path))
    with ix.searcher() as s:
        if s.doc_count() != expected:
            raise RuntimeError(f"new index holds {s.doc_count()} documents, expected {expected}")
        for docnum in range(min(expected, 3)):
            s.stored_fields(docnum)


def _prune(location: IndexLocation, keep: str) -> None:
    """Remove all but the newest generations (the served one is always kept)."""
    names = [n for n in location.list_generations() if n != keep]
    for old in names[: max(0, len(names) - (KEEP_GENERATIONS - 1))]:
        shutil.rmtree(location.generations_dir / old, ignore_errors=True)
