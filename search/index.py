"""Where the index lives on disk: generations, atomic publishing, searchers.

Layout of an index directory::

    INDEX_DIR/CURRENT                 name of the served generation (replaced atomically)
    INDEX_DIR/generations/<name>/     one complete Whoosh index + manifest.json

A job writes a whole new generation beside the served one and publishes it by
replacing CURRENT (after fsync of the files and directories), so a reader sees
either the old index or the new one, never a half-built one.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from whoosh import index as whoosh_index
from whoosh.searching import Searcher

from search.errors import IndexUnavailable
from search.schema import SCHEMA_VERSION, build_schema

MANIFEST = "manifest.json"
POINTER = "CURRENT"


@dataclass(frozen=True)
class Generation:
    """One published (or being built) index generation."""

    name: str
    path: Path
    manifest: dict[str, Any]

    @property
    def doc_count(self) -> int:
        return int(self.manifest.get("doc_count", 0))

    @property
    def built_at(self) -> str | None:
        return self.manifest.get("built_at")


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_tree(path: Path) -> None:
    for p in path.iterdir():
        if p.is_file():
            with open(p, "rb") as f:
                os.fsync(f.fileno())
    _fsync_dir(path)


class IndexLocation:
    """An index directory holding generations and the CURRENT pointer."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        self.generations_dir = self.root / "generations"

    def current_name(self) -> str | None:
        try:
            name = (self.root / POINTER).read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            return None
        return name or None

    def current(self) -> Generation:
        """Return the served generation, or raise IndexUnavailable."""
        name = self.current_name()
        if name is None:
            raise IndexUnavailable(
                f"No index has been built in {self.root} yet; run `python -m indexer build`."
            )
        return self.generation(name)

    def generation(self, name: str) -> Generation:
        path = self.generations_dir / name
        try:
            manifest = json.loads((path / MANIFEST).read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:
            raise IndexUnavailable(f"Index generation {name} cannot be read: {e}") from e
        return Generation(name=name, path=path, manifest=manifest)

    def list_generations(self) -> list[str]:
        if not self.generations_dir.is_dir():
            return []
        return sorted(p.name for p in self.generations_dir.iterdir() if p.is_dir())

    def new_generation(self) -> tuple[str, Path, whoosh_index.Index]:
        """Create an empty generation directory with a fresh Whoosh index in it."""
        self.generations_dir.mkdir(parents=True, exist_ok=True)
        stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
        name = f"g{stamp}-{os.getpid()}"
        path = self.generations_dir / name
        path.mkdir()
        ix = whoosh_index.create_in(str(path), build_schema())
        return name, path, ix

    def write_manifest(self, path: Path, manifest: dict[str, Any]) -> None:
        data = dict(manifest, schema_version=SCHEMA_VERSION)
        tmp = path / (MANIFEST + ".tmp")
        tmp.write_text(json.dumps(data, indent=2, sort_keys=True), encoding="utf-8")
        os.replace(tmp, path / MANIFEST)

    def publish(self, name: str) -> None:
        """Make generation `name` the served one, atomically and durably."""
        path = self.generations_dir / name
        _fsync_tree(path)
        _fsync_dir(self.generations_dir)
        tmp = self.root / (POINTER + ".tmp")
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(name + "\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.root / POINTER)
        _fsync_dir(self.root)


def open_whoosh(gen: Generation) -> whoosh_index.Index:
    """Open a generation's Whoosh index without ever creating one."""
    if gen.manifest.get("schema_version") != SCHEMA_VERSION:
        raise IndexUnavailable(
            f"Index generation {gen.name} was built with schema "
            f"{gen.manifest.get('schema_version')}, this code needs {SCHEMA_VERSION}; "
            "rebuild it with `python -m indexer build`."
        )
    try:
        return whoosh_index.open_dir(str(gen.path))
    except Exception as e:  # any failure to open means "unavailable"
        raise IndexUnavailable(f"Index generation {gen.name} cannot be opened: {e}") from e


class SearcherPool:
    """Hands out searchers for the served generation; one per thread, reused.

    Opening a searcher costs tens to hundreds of milliseconds, so each thread
    keeps its own and reuses it across requests; a Whoosh Searcher is not safe
    to share between threads. When CURRENT names a new generation, the next
    acquire opens it, and the old searchers are closed once no request holds them.
    """

    def __init__(self, location: IndexLocation) -> None:
        self.location = location
        self._local = threading.local()
        self._lock = threading.Lock()
        self._index: whoosh_index.Index | None = None
        self._generation: Generation | None = None
        self._in_use: dict[int, int] = {}  # id(searcher) -> active borrowers
        self._retired: list[Searcher] = []

    def generation(self) -> Generation:
        """Return the served generation, opening it if CURRENT changed."""
        name = self.location.current_name()
        with self._lock:
            if self._generation is None or name != self._generation.name:
                gen = self.location.current()
                ix = open_whoosh(gen)
                self._index, self._generation = ix, gen
            return self._generation

    @contextmanager
    def searcher(self) -> Iterator[tuple[Searcher, Generation]]:
        """Borrow this thread's searcher for the served generation."""
        gen = self.generation()
        cached = getattr(self._local, "entry", None)
        if cached is None or cached[1].name != gen.name:
            assert self._index is not None
            s = self._index.searcher()
            with self._lock:
                if cached is not None:
                    self._retire(cached[0])
            self._local.entry = cached = (s, gen)
        s = cached[0]
        with self._lock:
            self._in_use[id(s)] = self._in_use.get(id(s), 0) + 1
        try:
            yield s, cached[1]
        finally:
            with self._lock:
                self._in_use[id(s)] -= 1
                if not self._in_use[id(s)]:
                    del self._in_use[id(s)]
                self._close_idle_retired()

    def _retire(self, s: Searcher) -> None:
        self._retired.append(s)
        self._close_idle_retired()

    def _close_idle_retired(self) -> None:
        keep = []
        for s in self._retired:
            if id(s) in self._in_use:
                keep.append(s)
            else:
                s.close()
        self._retired = keep
