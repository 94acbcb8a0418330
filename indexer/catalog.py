"""What each source file contributed to a generation: the memory of incremental updates.

One JSONL file holds thousands of articles, so documents are tracked per source
file: its size, mtime and sha1 (of the bytes on disk), and the ids it produced
in file order, each with a digest of (content hash, path). `update` compares
the files on disk with this catalog to find what to add, re-index and delete.
The catalog lives in the generation it describes (`sources.json`), so it is
published, copied and rolled back together with the index.

When two files produce the same id, the first file in source order wins,
exactly as in a full build; `owners()` replays that rule.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from search.models import Article

CATALOG = "sources.json"
CATALOG_VERSION = 1
RACY_WINDOW_NS = 2_000_000_000  # a file modified this recently may change again unseen


def article_digest(a: Article) -> str:
    """Return a short digest that changes when the stored document would change."""
    return hashlib.sha1(f"{a.content_hash}\0{a.path}".encode()).hexdigest()[:16]


@dataclass(frozen=True)
class FileRecord:
    """One source file as last indexed."""

    size: int
    mtime_ns: int  # -1: modified too close to the scan to trust; compare by sha1
    sha1: str | None  # None when the file could not be read
    articles: dict[str, str] = field(default_factory=dict)  # id -> digest, file order
    skipped: tuple[tuple[str, str], ...] = ()  # (where, reason)

    @classmethod
    def of(
        cls,
        st: os.stat_result,
        sha1: str | None,
        articles: dict[str, str],
        skipped: Iterable[tuple[str, str]] = (),
        *,
        scan_ns: int,
    ) -> FileRecord:
        """Record a file read now; a too-recent mtime is not trusted next time."""
        mtime = st.st_mtime_ns if st.st_mtime_ns < scan_ns - RACY_WINDOW_NS else -1
        return cls(st.st_size, mtime, sha1, articles, tuple(skipped))

    def same_stat(self, st: os.stat_result) -> bool:
        return self.size == st.st_size and self.mtime_ns == st.st_mtime_ns


@dataclass
class Catalog:
    """Every tracked source file of a generation, in source order."""

    sources: list[str]
    files: dict[str, FileRecord] = field(default_factory=dict)

    def owners(self) -> dict[str, tuple[str, str]]:
        """Map each indexed id to (file, digest) of the first file producing it."""
        owned: dict[str, tuple[str, str]] = {}
        for path, rec in self.files.items():
            for aid, digest in rec.articles.items():
                owned.setdefault(aid, (path, digest))
        return owned

    def to_json(self) -> dict[str, Any]:
        return {
            "version": CATALOG_VERSION,
            "sources": self.sources,
            "files": {
                path: {
                    "size": r.size,
                    "mtime_ns": r.mtime_ns,
                    "sha1": r.sha1,
                    "articles": r.articles,
                    "skipped": [list(s) for s in r.skipped],
                }
                for path, r in self.files.items()
            },
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Catalog:
        if data.get("version") != CATALOG_VERSION:
            raise ValueError(f"unknown catalog version {data.get('version')!r}")
        files = {
            path: FileRecord(
                size=r["size"],
                mtime_ns=r["mtime_ns"],
                sha1=r["sha1"],
                articles=dict(r["articles"]),
                skipped=tuple((w, why) for w, why in r["skipped"]),
            )
            for path, r in data["files"].items()
        }
        return cls(sources=list(data["sources"]), files=files)

    def save(self, generation_dir: Path) -> None:
        tmp = generation_dir / (CATALOG + ".tmp")
        tmp.write_text(json.dumps(self.to_json(), separators=(",", ":")), encoding="utf-8")
        os.replace(tmp, generation_dir / CATALOG)

    @classmethod
    def load(cls, generation_dir: Path) -> Catalog:
        """Read a generation's catalog (OSError or ValueError when missing or broken)."""
        data = json.loads((generation_dir / CATALOG).read_text(encoding="utf-8"))
        return cls.from_json(data)
