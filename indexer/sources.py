"""Find article files and read their bytes: the indexer's only file-reading edge.

Folders are walked recursively in a stable (sorted) order. Gzipped files are
decompressed with a cap on the output size, so a gzip bomb is refused instead
of filling memory.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from indexer.extract import Skipped, detect_kind

MAX_FILE_BYTES = 64 * 1024 * 1024  # raw size refused before reading
MAX_DECOMPRESSED_BYTES = 256 * 1024 * 1024  # JSONL archives can be large; pages are capped later


@dataclass(frozen=True)
class SourceFile:
    """One readable input file and its decompressed bytes."""

    path: str
    kind: str
    data: bytes
    sha1: str = ""  # of the bytes on disk (before gunzip): what `update` compares


def iter_paths(sources: Iterable[str | os.PathLike[str]]) -> Iterator[Path]:
    """Yield every file under the given files and folders, sorted, hidden ones skipped."""
    for src in sources:
        p = Path(src)
        if p.is_dir():
            for root, dirs, files in os.walk(p):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                for name in sorted(files):
                    if not name.startswith("."):
                        yield Path(root) / name
        else:
            yield p


def _gunzip(raw: bytes, limit: int) -> bytes:
    """Decompress every member: archives grown with `gzip -c new >> old.gz` have several."""
    parts: list[bytes] = []
    size = 0
    while raw:
        d = zlib.decompressobj(wbits=47)  # gzip or zlib header
        out = d.decompress(raw, limit + 1 - size)
        size += len(out)
        if size > limit or d.unconsumed_tail:
            raise ValueError(f"decompresses to more than {limit // (1024 * 1024)} MB")
        if not d.eof:
            raise EOFError("truncated gzip data")
        parts.append(out)
        raw = d.unused_data.lstrip(b"\0")  # some tools pad members with zeros
    return b"".join(parts)


def read_source(path: Path) -> SourceFile | Skipped:
    """Read one file, or say why it is skipped."""
    kind = detect_kind(path.name)
    if kind is None:
        return Skipped(str(path), "unsupported file type")
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            return Skipped(str(path), f"file too large ({size // (1024 * 1024)} MB)")
        raw = path.read_bytes()
    except OSError as e:
        return Skipped(str(path), f"cannot read: {e.strerror or e}")
    digest = hashlib.sha1(raw).hexdigest()
    if path.name.lower().endswith(".gz"):
        try:
            raw = _gunzip(raw, MAX_DECOMPRESSED_BYTES)
        except (ValueError, zlib.error, gzip.BadGzipFile, EOFError) as e:
            return Skipped(str(path), f"broken gzip: {e}")
    return SourceFile(str(path), kind, raw, digest)


def file_sha1(path: Path) -> str:
    """Hash a file's bytes in chunks (OSError when it cannot be read)."""
    h = hashlib.sha1()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def fingerprint(paths: Iterable[Path]) -> str:
    """Hash names, sizes and modification times: cheap staleness check for `--if-stale`."""
    h = hashlib.sha1()
    for p in sorted(paths):
        try:
            st = p.stat()
        except OSError:
            continue
        h.update(f"{p.resolve()}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return h.hexdigest()
