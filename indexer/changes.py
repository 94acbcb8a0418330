"""Source files to index changes: find what changed since a catalog, then write it.

`scan` is cheap: it stats every file and hashes only those whose size or mtime
differ from the catalog, so an `update` with nothing to do reads no article.
`Applier` then walks the files in source order, extracts the new and changed
ones, and writes only documents whose (content hash, path) digest changed;
ids no file produces any more are deleted. A full rebuild is the same walk
with an empty catalog, so both follow one rule for duplicate ids (the first
file in source order wins) and produce the same documents.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

from whoosh.writing import IndexWriter

from indexer import extractpool
from indexer.catalog import Catalog, FileRecord, article_digest
from indexer.extract import Skipped, detect_kind
from indexer.extractpool import ExtractAhead, Extracted, guarded, planned, source_items
from indexer.sources import LineSource, SourceFile, file_sha1, iter_paths, open_source
from search.fingerprint import Fingerprint, fingerprint
from search.models import Article
from search.schema import to_document
from search.stories import StoryIndex

log = logging.getLogger(__name__)


@dataclass
class Progress:
    """Callbacks a front end may pass to show progress; all optional."""

    on_file: Callable[[str], None] = lambda path: None
    on_article: Callable[[Article], None] = lambda article: None
    on_skip: Callable[[Skipped], None] = lambda skipped: None


@dataclass
class Tally:
    """Counts a job reports."""

    added: int = 0
    updated: int = 0
    deleted: int = 0
    duplicates: int = 0
    files: int = 0
    skipped: list[Skipped] = field(default_factory=list)
    removed_files: dict[str, int] = field(default_factory=dict)  # path -> articles it had


@dataclass
class Scan:
    """Which tracked files must be read again, and which are gone."""

    order: list[Path]  # every file under the sources, in source order
    changed: set[str]  # new files and files whose bytes differ: extract again
    records: dict[str, FileRecord]  # catalog records still valid (stat refreshed if touched)
    removed: list[str]
    touched: int = 0  # mtime changed, bytes did not

    @property
    def is_noop(self) -> bool:
        return not self.changed and not self.removed


def scan(old: Catalog, sources: list[str], *, scan_ns: int) -> Scan:
    """Compare the files under `sources` with the catalog (stat, then sha1 if needed)."""
    order: list[Path] = []
    changed: set[str] = set()
    records: dict[str, FileRecord] = {}
    touched = 0
    for path in iter_paths(sources):
        key = str(path)
        if detect_kind(path.name) is None:
            continue  # never indexed, so never worth hashing
        order.append(path)
        rec = old.files.get(key)
        try:
            st = path.stat()
        except OSError:
            st = None
        if rec is not None and st is not None and rec.same_stat(st):
            records[key] = rec
            continue
        try:
            sha1 = file_sha1(path) if st is not None else None
        except OSError:
            sha1 = None
        if rec is not None and st is not None and sha1 is not None and sha1 == rec.sha1:
            touched += 1
            records[key] = FileRecord.of(st, sha1, rec.articles, rec.skipped, scan_ns=scan_ns)
        elif rec is not None and sha1 is None:
            records[key] = rec  # unreadable now: keep what it gave, retry next time
        else:
            changed.add(key)
    seen = {str(p) for p in order}
    removed = [k for k in old.files if k not in seen]
    return Scan(order, changed, records, removed, touched)


def full_scan(sources: list[str]) -> Scan:
    """A scan that reads every file: what a rebuild does."""
    order = list(iter_paths(sources))
    return Scan(order, {str(p) for p in order}, {}, [])


def _crashed(path: str, tb: str) -> None:
    """Log an extractor bug (the file is skipped): the one place one is reported."""
    log.error("extractor failed on %s\n%s", path, tb.rstrip())


class Applier:
    """Write the documents that differ between the old catalog and the files now."""

    def __init__(
        self,
        old: Catalog,
        writer: IndexWriter,
        tally: Tally,
        progress: Progress,
        pause: Callable[[], None],
        *,
        scan_ns: int,
        stories: StoryIndex | None = None,
        extract_ahead: bool = False,
    ) -> None:
        self.old = old
        # Changed page files extracted ahead of the walk in other processes, when a job
        # has enough of them (indexer/extractpool.py).
        self.extract_ahead = extract_ahead
        self.ahead: ExtractAhead | None = None
        self.stories = stories  # kept in step with every document written or deleted
        self.old_owner = old.owners()
        self.writer = writer
        self.tally = tally
        self.progress = progress
        self.pause = pause
        self.scan_ns = scan_ns
        self.claimed: dict[str, tuple[str, str]] = {}  # id -> (file, digest) now
        self._promote: dict[str, set[str]] = {}  # unchanged file -> ids it now owns
        # A writer whose workers fingerprint the bodies (indexer/pipeline.py): the story
        # index gets those after the commit (`add_fingerprints`), in time order.
        scheme = getattr(writer, "fingerprint_scheme", None)
        self._defer = stories is not None and scheme == stories.params.scheme
        self._later: dict[str, dt.datetime | None] = {}

    def run(self, plan: Scan, sources: list[str]) -> Catalog:
        """Apply `plan`; return the catalog of the result."""
        pages, with_records = planned(plan.order, plan.changed)
        n = extractpool.processes(len(pages), with_records) if self.extract_ahead else 0
        if n == 0:
            return self._run(plan, sources)
        with ExtractAhead(pages, n) as self.ahead:
            try:
                return self._run(plan, sources)
            finally:
                self.ahead = None

    def _run(self, plan: Scan, sources: list[str]) -> Catalog:
        files: dict[str, FileRecord] = {}
        for path in plan.order:
            key = str(path)
            self.tally.files += 1
            self.progress.on_file(key)
            rec = self._index_file(path) if key in plan.changed else plan.records.get(key)
            if rec is None:
                rec = self.old.files.get(key)  # unreadable now: keep what it gave
                if rec is None:
                    continue
                self._keep(key, rec)
            elif key not in plan.changed:
                self._keep(key, rec)
            files[key] = rec
        self._write_promoted(files)
        self._delete_orphans(plan.removed)
        return Catalog(sources=sources, files=files)

    def unchanged(self) -> int:
        return len(self.claimed) - self.tally.added - self.tally.updated

    def _skip(self, skipped: Skipped) -> None:
        self.tally.skipped.append(skipped)
        self.progress.on_skip(skipped)

    def _index_file(self, path: Path) -> FileRecord | None:
        try:
            st = path.stat()
        except OSError as e:
            self._skip(Skipped(str(path), f"cannot read: {e.strerror or e}"))
            return None
        got = self.ahead.take(str(path)) if self.ahead is not None else None
        src = open_source(path) if got is None else got
        if isinstance(src, Extracted) and src.sha1 is None:
            src = cast(Skipped, src.items[0])  # it could not be opened
        if isinstance(src, Skipped):
            self._skip(src)
            if detect_kind(path.name) is None or str(path) in self.old.files:
                return None  # unsupported, or keep the old articles of an unreadable file
            return FileRecord.of(st, None, {}, [(src.path, src.reason)], scan_ns=self.scan_ns)
        articles: dict[str, str] = {}
        skips_before = len(self.tally.skipped)
        for article in self._extract(src):
            if article.id in articles:
                self.tally.duplicates += 1
                continue
            digest = article_digest(article)
            articles[article.id] = digest
            if article.id in self.claimed:
                self.tally.duplicates += 1
                continue
            self.claimed[article.id] = (src.path, digest)
            if self.old_owner.get(article.id) != (src.path, digest):
                self._put(article)
        skipped = [(s.path, s.reason) for s in self.tally.skipped[skips_before:]]
        return FileRecord.of(st, src.sha1, articles, skipped, scan_ns=self.scan_ns)

    def _extract(self, src: SourceFile | LineSource | Extracted) -> Iterator[Article]:
        """The articles of one file, extracted here or by the pool; its skips reported."""
        if isinstance(src, Extracted):
            for tb in src.crashes:
                _crashed(src.path, tb)
            items: Iterable[Article | Skipped] = src.items
        else:
            items = guarded(src.path, source_items(src), _crashed)
        for item in items:
            if isinstance(item, Skipped):
                self._skip(item)
            else:
                yield item

    def _keep(self, key: str, rec: FileRecord) -> None:
        for aid, digest in rec.articles.items():
            if aid in self.claimed:
                continue
            self.claimed[aid] = (key, digest)
            if self.old_owner.get(aid) != (key, digest):
                # Its earlier owner changed or went away: this file's copy takes over.
                self._promote.setdefault(key, set()).add(aid)

    def _put(self, article: Article) -> None:
        if article.id in self.old_owner:
            self.writer.delete_by_term("id", article.id)
            self.tally.updated += 1
        else:
            self.tally.added += 1
        self.writer.add_document(**to_document(article))
        if self._defer:
            self._later[article.id] = article.published
        elif self.stories is not None:
            self.stories.add(
                article.id, article.published, fingerprint(article.body, self.stories.params.scheme)
            )
        self.progress.on_article(article)
        self.pause()

    def add_fingerprints(self, prints: Mapping[str, Fingerprint]) -> None:
        """Add the documents the writer fingerprinted to the story index; call after commit."""
        if self.stories is None or not self._later:
            return
        missing = [aid for aid in self._later if aid not in prints]
        if missing:
            raise RuntimeError(f"the index writer fingerprinted no body for {len(missing)} ids")
        self.stories.add_many((aid, published, prints[aid]) for aid, published in self._later.items())
        self._later.clear()

    def _write_promoted(self, files: dict[str, FileRecord]) -> None:
        for key, ids in self._promote.items():
            src = open_source(Path(key))
            if isinstance(src, Skipped) or src.sha1 != files[key].sha1:
                raise RuntimeError(f"{key} changed while the job ran; run the job again")
            for article in self._extract(src):
                if article.id in ids:
                    ids.discard(article.id)
                    self._put(article)
            if ids:
                raise RuntimeError(f"{key} no longer yields {len(ids)} articles; run rebuild")

    def _delete_orphans(self, removed: list[str]) -> None:
        lost: Counter[str] = Counter()
        for aid, (path, _) in self.old_owner.items():
            if aid not in self.claimed:
                self.writer.delete_by_term("id", aid)
                if self.stories is not None and aid in self.stories:
                    self.stories.remove(aid)
                self.tally.deleted += 1
                lost[path] += 1
                self.pause()
        for key in removed:
            self.tally.removed_files[key] = lost[key]
            log.info("source file %s is gone: its %d articles were removed", key, lost[key])
