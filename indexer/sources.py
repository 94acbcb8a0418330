"""Find article files and read their bytes: the indexer's only file-reading edge.

Folders are walked recursively in a stable (sorted) order. Gzipped files are
decompressed with a cap on the output size, so a gzip bomb is refused instead
of filling memory.

A JSON Lines archive is not read whole when a job indexes it (`open_source`):
107 MB of Arabic JSON Lines held as bytes and then as text was ~250 MB of the
job process for as long as the file was indexed. It is read twice instead, a
megabyte at a time: once to hash it and check what `extract` would refuse (size,
empty, binary, not UTF-8), then line by line while it is indexed. A file that
fails a check takes the whole-file path, so it is refused with the same reason.
"""

from __future__ import annotations

import codecs
import gzip
import hashlib
import io
import os
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from indexer.decoding import has_binary_marks
from indexer.extract import MAX_BYTES, Skipped, detect_kind

MAX_FILE_BYTES = 64 * 1024 * 1024  # raw size refused before reading
MAX_DECOMPRESSED_BYTES = 256 * 1024 * 1024  # JSONL archives can be large; pages are capped later
CHUNK_BYTES = 1 << 20  # read and inflate a streamed file this much at a time
_BINARY_HEAD = 8192  # what `decoding.has_binary_marks` looks at


@dataclass(frozen=True)
class SourceFile:
    """One readable input file and its decompressed bytes."""

    path: str
    kind: str
    data: bytes
    sha1: str = ""  # of the bytes on disk (before gunzip): what `update` compares


@dataclass(frozen=True)
class LineSource:
    """A JSON Lines file that was checked whole and is read again line by line (`lines`)."""

    path: str
    kind: str
    sha1: str  # of the bytes on disk, as `SourceFile.sha1`

    def lines(self) -> Iterator[str]:
        """Yield the file's lines as `str.splitlines` would (universal newlines), streamed."""
        with open(self.path, "rb") as f:
            raw = _Inflated(_chunks(f, self.path.lower().endswith(".gz"), None))
            text = io.TextIOWrapper(io.BufferedReader(raw, CHUNK_BYTES), "utf-8", newline=None)
            yield from text


class _Inflated(io.RawIOBase):
    """A readable stream over an iterator of byte chunks."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._rest = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        while not self._rest:
            self._rest = next(self._chunks, b"")
            if not self._rest:
                return 0
        n = min(len(buffer), len(self._rest))
        buffer[:n] = self._rest[:n]
        self._rest = self._rest[n:]
        return n


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


def _chunks(f: BinaryIO, gz: bool, digest: hashlib._Hash | None) -> Iterator[bytes]:
    """Yield a file's (decompressed) bytes a chunk at a time, hashing the bytes on disk.

    Decompression reads every member (archives grown with `gzip -c new >> old.gz` have
    several) and zero padding between them; a bomb raises ValueError, a truncated member
    EOFError, bad data zlib.error. `read_source` inflates whole files with it too.
    """
    raw = iter(lambda: f.read(CHUNK_BYTES), b"")
    if not gz:
        for block in raw:
            if digest is not None:
                digest.update(block)
            yield block
        return
    d: zlib._Decompress | None = None
    size = 0
    members = 0
    for block in raw:
        if digest is not None:
            digest.update(block)
        while True:
            if d is None:
                if members:
                    block = block.lstrip(b"\0")  # some tools pad members with zeros
                if not block:
                    break
                d = zlib.decompressobj(wbits=47)  # gzip or zlib header
                members += 1
            out = d.decompress(block, CHUNK_BYTES)
            block = d.unconsumed_tail
            size += len(out)
            if size > MAX_DECOMPRESSED_BYTES:
                raise ValueError(
                    f"decompresses to more than {MAX_DECOMPRESSED_BYTES // (1024 * 1024)} MB"
                )
            if out:
                yield out
            if d.eof:
                block, d = d.unused_data, None
            elif not block and len(out) < CHUNK_BYTES:
                break  # a full chunk may leave output inside zlib: ask again before reading on
    if d is not None:
        raise EOFError("truncated gzip data")


def _streamable(f: BinaryIO, gz: bool, digest: hashlib._Hash) -> bool:
    """Read a whole file (hashing it); True when `extract` would take it as plain UTF-8 text."""
    utf8 = codecs.getincrementaldecoder("utf-8")()
    head = b""
    size = 0
    blank = True
    ok = True
    for block in _chunks(f, gz, digest):
        if ok:
            if len(head) < _BINARY_HEAD:
                head += block[: _BINARY_HEAD - len(head)]
            size += len(block)
            blank = blank and not block.strip()
            try:
                utf8.decode(block)
            except UnicodeDecodeError:
                ok = False
    if ok:
        try:
            utf8.decode(b"", final=True)
        except UnicodeDecodeError:
            ok = False
    bom = head.startswith((codecs.BOM_UTF8, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE))
    return ok and not blank and not bom and not has_binary_marks(head) and size <= MAX_BYTES["jsonl"]


def open_source(path: Path) -> SourceFile | LineSource | Skipped:
    """Like `read_source`, but a JSON Lines file that can be streamed becomes a `LineSource`."""
    kind = detect_kind(path.name)
    if kind != "jsonl":
        return read_source(path)
    digest = hashlib.sha1()
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            return read_source(path)
        with open(path, "rb") as f:
            fine = _streamable(f, path.name.lower().endswith(".gz"), digest)
    except OSError as e:
        return Skipped(str(path), f"cannot read: {e.strerror or e}")
    except (ValueError, zlib.error, EOFError) as e:
        return Skipped(str(path), f"broken gzip: {e}")
    if not fine:
        return read_source(path)  # refused, or decoded another way, as before
    return LineSource(str(path), kind, digest.hexdigest())


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
            raw = b"".join(_chunks(io.BytesIO(raw), True, None))
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
