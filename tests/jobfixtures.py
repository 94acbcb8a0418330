"""Test helpers for indexer jobs: small real corpora and index snapshots."""

from __future__ import annotations

import datetime as dt
import gzip
import itertools
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from whoosh import index as whoosh_index

from indexer import jobs
from indexer.wire_edits import make_version
from search import storymap
from search.index import IndexLocation

SEED = Path(__file__).resolve().parents[1] / "corpus" / "articles" / "anadolu-2024-09-13.txt"


def news_lines(shared_data: Path, n: int) -> list[str]:
    """Return the first `n` records of the real news9 collection as JSON lines."""
    out = []
    with gzip.open(shared_data / "collections" / "news9.jsonl.gz", "rt", encoding="utf-8") as f:
        for line in f:
            out.append(line.rstrip("\n"))
            if len(out) == n:
                break
    return out


def collection_lines(shared_data: Path, name: str, n: int) -> list[str]:
    """Return the non-blank lines among the first `n` of a shared collection, newlines kept."""
    with gzip.open(shared_data / "collections" / f"{name}.jsonl.gz", "rt", encoding="utf-8") as f:
        return [line for line in itertools.islice(f, n) if line.strip()]


def edited(line: str, **changes: Any) -> str:
    """Return a JSON line with some fields replaced."""
    record = json.loads(line)
    record.update(changes)
    return json.dumps(record, ensure_ascii=False)


def write_lines(path: Path, lines: list[str]) -> None:
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")


# --- Wire stories: real records plus edited reprints, so which articles belong together is known

ORIGINALS = 12  # records that get reprints
REPRINTS = 2  # reprints of each


def reprints(lines: list[str], seed: int = 7) -> list[str]:
    """Return edited reprints of the first ORIGINALS records, a day after each original."""
    rng = random.Random(seed)
    out = []
    for line in lines[:ORIGINALS]:
        rec = json.loads(line)
        date = dt.date.fromisoformat(rec["date"][:10]) if rec.get("date") else None
        for n in range(REPRINTS):
            v = make_version(rec["title"], rec["body"], rec.get("language") or "en", rng)
            out.append(
                json.dumps(
                    {
                        **rec,
                        "id": f"{rec['id']}-reprint{n}",
                        "url": f"https://reprint{n}.example/{rec['id']}",
                        "original_url": rec["url"],
                        "source": f"reprint{n}.example",
                        "title": v.title,
                        "body": v.body,
                        "date": (date + dt.timedelta(days=1 + n)).isoformat() if date else None,
                    },
                    ensure_ascii=False,
                )
            )
    return out


def story_index(root: Path, lines: list[str]) -> Path:
    """Rebuild `lines` and their reprints into `root`/ix with the indexer's job; return the index."""
    src = root / "src"
    src.mkdir()
    write_lines(src / "a.jsonl", lines)
    write_lines(src / "b.jsonl", reprints(lines))
    jobs.rebuild([src], root / "ix")
    return root / "ix"


def map_of(index_dir: Path) -> dict[str, list[str]]:
    """Return the served generation's story map as {story id: member ids in time order}."""
    gen = IndexLocation(index_dir).current()
    smap = storymap._read(gen.path / storymap.STORY_MAP)
    assert smap is not None
    ix = whoosh_index.open_dir(str(gen.path))
    with ix.searcher() as s:
        return {story.id: [s.stored_fields(d)["id"] for d in story.docs] for story in smap._stories}


def a_story(index_dir: Path) -> tuple[str, list[str]]:
    """Return the story with the most versions."""
    stories = map_of(index_dir)
    story_id = max(stories, key=lambda k: (len(stories[k]), k))
    return story_id, stories[story_id]


def stored_docs(index_dir: Path) -> dict[str, dict[str, Any]]:
    """Return every stored document of the served generation, by id (checks none repeats)."""
    loc = IndexLocation(index_dir)
    gen = loc.current()
    ix = whoosh_index.open_dir(str(gen.path))
    docs: dict[str, dict[str, Any]] = {}
    with ix.searcher() as s:
        for fields in s.all_stored_fields():
            assert fields["id"] not in docs, f"duplicate {fields['id']}"
            docs[fields["id"]] = fields
        assert s.doc_count() == len(docs) == gen.doc_count
    return docs


def children_die_with_killed_job(script: str, *args: str, cwd: Path, expect: int) -> None:
    """Run `script` (which prints its child processes' pids on one line, then waits),
    kill -9 it, and assert that its `expect` children are gone within 10 s."""
    job = subprocess.Popen(
        [sys.executable, "-c", script, *args], cwd=cwd, stdout=subprocess.PIPE, text=True
    )
    assert job.stdout is not None
    with job.stdout:
        pids = [int(p) for p in job.stdout.readline().split()]
    assert len(pids) == expect
    os.kill(job.pid, signal.SIGKILL)
    job.wait()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(_alive(p) for p in pids):
        time.sleep(0.05)
    assert not any(_alive(p) for p in pids)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False
