"""Whether index files may be opened: Whoosh's TOC and segment files are pickles.

Whoever can write them can run code in the process that opens them. A file is trusted
when neither group nor others may write it and it belongs to this process's user or
root. The web app checks the whole index directory at start (`web/security.py`) and
every generation published later when its searcher pool first opens it
(`SearcherPool.trust`), so a generation dropped in by another user is refused while
the one already open keeps serving.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable
from pathlib import Path

from search.errors import IndexUnavailable

POINTERS = ("CURRENT", "PREVIOUS")
SHOWN = 3  # problems named in one message; the rest are counted


def unsafe(path: Path, uid: int) -> str | None:
    """Say why `path` could be rewritten by someone else, or None when it is safe."""
    try:
        st = path.stat()
    except FileNotFoundError:  # pruned by a job while we looked
        return None
    if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        return f"{path} is writable by group or others (mode {stat.S_IMODE(st.st_mode):o})"
    if st.st_uid not in (uid, 0):
        return f"{path} is owned by uid {st.st_uid}, not by this user ({uid}) or root"
    return None


def problems(paths: Iterable[Path]) -> list[str]:
    """Return why each of `paths` is untrusted (empty when all are safe)."""
    uid = os.geteuid()
    return [p for p in (unsafe(path, uid) for path in paths) if p]


def summary(found: list[str]) -> str:
    """Name the first few problems and count the rest."""
    more = f" (and {len(found) - SHOWN} more)" if len(found) > SHOWN else ""
    return "; ".join(found[:SHOWN]) + more


def index_paths(root: Path) -> list[Path]:
    """Every path of an index directory whose writer could decide what gets unpickled."""
    paths = [root]
    gens = root / "generations"
    if gens.is_dir():
        paths.append(gens)
        for gen in gens.iterdir():
            paths.append(gen)
            if gen.is_dir():
                paths.extend(gen.iterdir())
    paths.extend(root / name for name in POINTERS if (root / name).exists())
    return paths


def generation_paths(generation_dir: Path) -> list[Path]:
    """The paths that decide what opening one generation reads.

    The generation's folder and files, and above it `generations/`, the index directory
    and CURRENT (whoever rewrites those can swap in another folder).
    """
    root = generation_dir.parent.parent
    paths = [root, generation_dir.parent, generation_dir]
    paths.extend(sorted(generation_dir.iterdir()) if generation_dir.is_dir() else [])
    paths.extend(root / name for name in POINTERS if (root / name).exists())
    return paths


def check_generation(name: str, generation_dir: Path) -> None:
    """Raise IndexUnavailable when generation `name` could have been written by others."""
    found = problems(generation_paths(generation_dir))
    if found:
        root = generation_dir.parent.parent
        raise IndexUnavailable(
            f"Index generation {name} is not opened: its files hold pickles, so only this "
            f"user or root may be able to write them. {summary(found)}. "
            f"Fix with `chmod -R go-w {root}` (and run the indexer as the app's user)."
        )
