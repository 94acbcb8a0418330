"""Copy the served generation of one index directory to another and serve it there.

Serving replicas: every web node reads its own index directory, and a
published generation is immutable, so a node is brought up to date by copying
the generation it lacks under the same name (so `/api/health` on every node
names the same generation), checking the copy, and flipping that node's
CURRENT pointer atomically, exactly as a local job publishes. The copy is
made in a hidden staging directory and renamed into place only once every
file's SHA-256 matches the source and the index opens with the expected
number of documents; a failed or interrupted sync leaves the node serving
what it served before (the next job removes the leftovers).

It runs as a job on the destination (its lock, last-job.json, pruning), so
`status`, `rollback` and `/api/health` on a replica behave as on the builder.
"""

from __future__ import annotations

import hashlib
import shutil
import uuid
from pathlib import Path

from indexer import jobs
from indexer.report import JobReport
from indexer.verify import VerificationError
from search.errors import IndexUnavailable
from search.index import MANIFEST, IndexLocation, open_whoosh

CHUNK = 1 << 20


def sync(src_dir: str | Path, dst_dir: str | Path, *, wait: float = 0.0) -> JobReport:
    """Make `dst_dir` serve the generation `src_dir` serves, copying it when missing."""
    src = IndexLocation(src_dir)
    try:
        gen = src.current()
    except IndexUnavailable as e:
        raise jobs.JobRefused(f"nothing to sync from {src.root}: {e.message}") from e

    def body(ctx: jobs._Job) -> JobReport:
        dst = ctx.location
        previous = dst.current_name()
        if previous == gen.name:
            return JobReport(
                "sync", "no-op", gen.name, gen.doc_count, started_at=ctx.started_at,
                message=f"already serving {gen.name}",
            )  # fmt: skip
        target = dst.generations_dir / gen.name
        copied = 0
        if not (target / MANIFEST).exists():
            copied = _copy_verified(gen.path, target)
        checked = dst.generation(gen.name)  # the copy's own manifest, as served
        ix = open_whoosh(checked)
        try:
            if ix.doc_count() != gen.doc_count:
                raise VerificationError(
                    f"copy of {gen.name} holds {ix.doc_count():,} documents, "
                    f"its manifest says {gen.doc_count:,}"
                )
        finally:
            ix.close()
        ctx.step()
        dst.publish(gen.name)
        jobs.prune(dst)
        return JobReport(
            "sync", "published", gen.name, gen.doc_count, previous=previous,
            started_at=ctx.started_at,
            message=f"copied {copied:,} bytes from {src.root}" if copied
            else f"{gen.name} was already here; now served",
        )  # fmt: skip

    return jobs._run(dst_dir, "sync", wait, None, body)


def _copy_verified(src: Path, target: Path) -> int:
    """Copy the generation folder `src` to `target` via a staging folder; return bytes copied."""
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = target.parent / f".sync-{target.name}-{uuid.uuid4().hex[:8]}"
    try:
        staging.mkdir()
        total = 0
        for f in sorted(p for p in src.iterdir() if p.is_file() and not p.name.endswith(".tmp")):
            if f.name.endswith("WRITELOCK"):
                continue
            want = _sha256(f)
            dst_file = staging / f.name
            shutil.copyfile(f, dst_file)
            if _sha256(dst_file) != want:
                raise VerificationError(f"copy of {f} differs from the source")
            total += dst_file.stat().st_size
        if not (staging / MANIFEST).exists():
            raise VerificationError(f"{src} has no {MANIFEST}: not a published generation")
        staging.rename(target)
        return total
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            h.update(chunk)
    return h.hexdigest()
