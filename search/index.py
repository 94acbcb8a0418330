"""Where the index lives on disk: generations, atomic publishing, searchers.

Layout of an index directory::

    INDEX_DIR/CURRENT                 name of the served generation (replaced atomically)
    INDEX_DIR/PREVIOUS                the generation served before it (kept for rollback)
    INDEX_DIR/last-job.json           outcome of the latest indexer job, for status and health
    INDEX_DIR/job.lock                held (flock) by the one indexer job allowed at a time
    INDEX_DIR/generations/<name>/     one complete Whoosh index + manifest.json (+ sources.json)

A job writes a whole new generation beside the served one and publishes it by
replacing CURRENT (after fsync of the files and directories), so a reader sees
either the old index or the new one, never a half-built one. Files of a
published generation are never modified, only (after it stops being served)
deleted; on Linux a searcher that still has them open keeps reading them.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from whoosh import index as whoosh_index
from whoosh.searching import Searcher

from search import mapped, termmemo
from search import trust as trust_check
from search.errors import IndexUnavailable
from search.schema import SCHEMA_VERSION, build_schema

log = logging.getLogger(__name__)
mapped.install()  # segment files read in place, not copied into every reader

MANIFEST = "manifest.json"
POINTER = "CURRENT"
PREVIOUS_POINTER = "PREVIOUS"
LAST_JOB = "last-job.json"


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
    # Whoosh never fsyncs its commits; without this a power cut after publishing
    # could leave CURRENT naming a generation whose files are still empty.
    for p in path.iterdir():
        if p.is_file():
            with open(p, "rb") as f:
                os.fsync(f.fileno())
    _fsync_dir(path)


def write_atomic(path: Path, text: str) -> None:
    """Replace `path` with `text` durably: readers see the old or the new content."""
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    _fsync_dir(path.parent)


class IndexLocation:
    """An index directory holding generations and the CURRENT pointer."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        self.generations_dir = self.root / "generations"

    def _read_pointer(self, pointer: str) -> str | None:
        try:
            name = (self.root / pointer).read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            return None
        except OSError as e:  # EMFILE, EIO...: unavailable for now, not a server error
            raise IndexUnavailable(f"The index pointer {pointer} cannot be read: {e}") from e
        return name or None

    def current_name(self) -> str | None:
        return self._read_pointer(POINTER)

    def previous_name(self) -> str | None:
        """Return the generation served before the current one (the rollback target)."""
        return self._read_pointer(PREVIOUS_POINTER)

    def current(self) -> Generation:
        """Return the served generation, or raise IndexUnavailable."""
        name = self.current_name()
        if name is None:
            raise IndexUnavailable(
                f"No index has been built in {self.root} yet; run `python -m indexer rebuild`."
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

    def new_generation_dir(self) -> tuple[str, Path]:
        """Create an empty, uniquely named generation directory."""
        self.generations_dir.mkdir(parents=True, exist_ok=True)
        stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
        name = f"g{stamp}-{os.getpid()}"
        path = self.generations_dir / name
        path.mkdir()
        return name, path

    def new_generation(self) -> tuple[str, Path, whoosh_index.Index]:
        """Create an empty generation directory with a fresh Whoosh index in it."""
        name, path = self.new_generation_dir()
        ix = whoosh_index.create_in(str(path), build_schema())
        return name, path, ix

    def write_manifest(self, path: Path, manifest: dict[str, Any]) -> None:
        data = dict(manifest, schema_version=SCHEMA_VERSION)
        tmp = path / (MANIFEST + ".tmp")
        tmp.write_text(json.dumps(data, indent=2, sort_keys=True), encoding="utf-8")
        os.replace(tmp, path / MANIFEST)

    def publish(self, name: str) -> None:
        """Make generation `name` the served one, atomically and durably.

        The generation served until now becomes PREVIOUS first, so a crash
        between the two writes can only lose rollback depth, never the
        protection of the served generation from pruning.
        """
        path = self.generations_dir / name
        _fsync_tree(path)
        _fsync_dir(self.generations_dir)
        old = self.current_name()
        if old is not None and old != name:
            write_atomic(self.root / PREVIOUS_POINTER, old + "\n")
        write_atomic(self.root / POINTER, name + "\n")

    def swap_to_previous(self) -> tuple[str, str]:
        """Serve PREVIOUS again and remember the current one as PREVIOUS; return (old, new)."""
        current, previous = self.current_name(), self.previous_name()
        if current is None or previous is None:
            raise IndexUnavailable(f"No previous generation to roll back to in {self.root}.")
        target = self.generation(previous)  # raises when it was removed or is unreadable
        open_whoosh(target).close()
        write_atomic(self.root / PREVIOUS_POINTER, current + "\n")
        write_atomic(self.root / POINTER, previous + "\n")
        return current, previous

    def last_job(self) -> dict[str, Any] | None:
        """Return what the latest indexer job recorded, or None (missing or unreadable)."""
        try:
            data = json.loads((self.root / LAST_JOB).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) else None

    def write_last_job(self, data: dict[str, Any]) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        write_atomic(self.root / LAST_JOB, json.dumps(data, indent=2, ensure_ascii=False))


def open_whoosh(gen: Generation) -> whoosh_index.Index:
    """Open a generation's Whoosh index without ever creating one."""
    if gen.manifest.get("schema_version") != SCHEMA_VERSION:
        raise IndexUnavailable(
            f"Index generation {gen.name} was built with schema "
            f"{gen.manifest.get('schema_version')}, this code needs {SCHEMA_VERSION}; "
            "rebuild it with `python -m indexer rebuild`."
        )
    try:
        ix = whoosh_index.open_dir(str(gen.path))
        # Segment files are only read when a reader opens: a truncated or zeroed
        # segment must fail here, where the pool can keep serving another generation.
        ix.reader().close()
        return ix
    except Exception as e:  # any failure to open (EMFILE too) means "unavailable"
        raise IndexUnavailable(f"Index generation {gen.name} cannot be opened: {e}") from e


@dataclass(eq=False)
class _Lease:
    """One open searcher, owned by one thread, lent to that thread's requests."""

    searcher: Searcher
    generation: Generation
    borrowers: int = 0
    retired: bool = False


class SearcherPool:
    """Hands out searchers for the served generation; one per thread, reused.

    Opening a searcher costs tens to hundreds of milliseconds, so each thread
    keeps its own and reuses it across requests; a Whoosh Searcher is not safe
    to share between threads, and `Searcher.refresh()` is never used because it
    closes files a request on another thread may still read. When CURRENT names
    a new generation, the next acquire opens it and every searcher of an older
    generation is retired: closed at once when idle (even if its thread never
    comes back), or by its last borrower. If the new generation cannot be
    opened, the one already open keeps serving and opening is retried later.
    """

    RETRY_OPEN_S = 5.0

    def __init__(self, location: IndexLocation) -> None:
        self.location = location
        self._lock = threading.Lock()
        self._index: whoosh_index.Index | None = None
        self._generation: Generation | None = None
        self._leases: dict[int, _Lease] = {}  # thread ident -> its searcher
        self._failed: tuple[str, float, IndexUnavailable] | None = None  # name, when, why
        self.open_error: str | None = None  # why CURRENT is not the generation served
        # Refuses a generation others could have written (its files are pickles); the web
        # app sets None when INDEX_PERMISSION_CHECK is off. See search/trust.py.
        self.trust: Callable[[str, Path], None] | None = trust_check.check_generation

    def generation(self) -> Generation:
        """Return the served generation, opening it if CURRENT changed."""
        return self._current()[0]

    def _current(self) -> tuple[Generation, whoosh_index.Index]:
        name = self.location.current_name()
        with self._lock:
            if name is None:
                raise IndexUnavailable(
                    f"No index has been built in {self.location.root} yet; "
                    "run `python -m indexer rebuild`."
                )
            if self._generation is not None and self._generation.name == name:
                assert self._index is not None
                return self._generation, self._index
            failed = self._failed
            if failed and failed[0] == name and time.monotonic() - failed[1] < self.RETRY_OPEN_S:
                return self._fallback(failed[2])
            try:
                gen = self.location.generation(name)
                if self.trust is not None:
                    self.trust(gen.name, gen.path)
                ix = open_whoosh(gen)
            except IndexUnavailable as e:
                self._failed = (name, time.monotonic(), e)
                log.warning("cannot open generation %s: %s", name, e.message)
                return self._fallback(e)
            self._failed, self.open_error = None, None
            self._index, self._generation = ix, gen
            self._retire_older(gen.name)
            return gen, ix

    def _fallback(self, error: IndexUnavailable) -> tuple[Generation, whoosh_index.Index]:
        if self._generation is None or self._index is None:
            self._open_previous(error)
        assert self._generation is not None and self._index is not None
        self.open_error = error.message
        return self._generation, self._index

    def _open_previous(self, error: IndexUnavailable) -> None:
        """At cold start with CURRENT unopenable, serve PREVIOUS (degraded) or raise `error`."""
        name = self.location.previous_name()
        if name is None or name == self.location.current_name():
            raise error
        try:
            gen = self.location.generation(name)
            if self.trust is not None:
                self.trust(gen.name, gen.path)
            ix = open_whoosh(gen)
        except IndexUnavailable:
            raise error from None
        log.warning("serving previous generation %s: %s", name, error.message)
        self._index, self._generation = ix, gen

    @contextmanager
    def searcher(self) -> Iterator[tuple[Searcher, Generation]]:
        """Borrow this thread's searcher for the served generation."""
        gen, ix = self._current()
        me = threading.get_ident()
        with self._lock:
            lease = self._leases.get(me)
            if lease is not None and lease.generation.name != gen.name:
                self._retire(me)
                lease = None
        if lease is None:
            lease = self._open_lease(gen, ix)  # slow; outside the lock
            with self._lock:
                self._drop_dead_threads()
                self._leases[me] = lease
        with self._lock:
            lease.borrowers += 1
        try:
            yield lease.searcher, lease.generation
        finally:
            with self._lock:
                lease.borrowers -= 1
                if lease.retired and not lease.borrowers:
                    lease.searcher.close()

    def _open_lease(self, gen: Generation, ix: whoosh_index.Index) -> _Lease:
        for _ in range(3):
            try:
                s = ix.searcher()
                termmemo.remember_terms(s.reader())  # term lookups memoised per reader
                return _Lease(s, gen)
            except (OSError, whoosh_index.IndexError) as e:
                error = e
            # Two quick publishes can prune the generation read from CURRENT
            # before its searcher opens: follow CURRENT when it has moved on.
            if self.location.current_name() == gen.name:
                break
            gen, ix = self._current()
        raise IndexUnavailable(f"Index generation {gen.name} cannot be searched: {error}")

    def close(self) -> None:
        """Close every idle searcher (busy ones close when returned)."""
        with self._lock:
            for ident in list(self._leases):
                self._retire(ident)

    def open_searchers(self) -> int:
        """Return how many searchers are open (for tests and monitoring)."""
        with self._lock:
            return len(self._leases)

    # The helpers below are called with self._lock held.

    def _retire(self, ident: int) -> None:
        lease = self._leases.pop(ident)
        lease.retired = True
        if not lease.borrowers:
            lease.searcher.close()

    def _retire_older(self, name: str) -> None:
        for ident, lease in list(self._leases.items()):
            if lease.generation.name != name:
                self._retire(ident)

    def _drop_dead_threads(self) -> None:
        # Servers that start a thread per request would otherwise leave one
        # open searcher behind per finished thread until the next publish.
        alive = {t.ident for t in threading.enumerate()}
        for ident in [i for i in self._leases if i not in alive]:
            self._retire(ident)
