"""Generations published while the app runs get the start check too (search/trust.py).

Whoosh files are pickles: a generation someone else could have written is refused when
the searcher pool first opens it, the generation already open keeps serving, and the
reason shows in /api/health until the files are fixed.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from search import trust
from search.errors import IndexUnavailable
from search.index import IndexLocation, SearcherPool
from search.models import Article
from tests.indexing import build_index
from web import create_app

OLD = [Article(id="old1", title="Budget talks", body="The budget talks resumed.", source="BBC")]
NEW = [
    Article(id=f"new{i}", title=f"Budget item {i}", body="A budget item.", source="CNN")
    for i in range(3)
]


def _total(client: object) -> int:
    r = client.get("/api/search?q=budget")  # type: ignore[attr-defined]
    assert r.status_code == 200
    return int(r.get_json()["total"])


def _loosen(gen: Path, target: str) -> Path:
    root = gen.parent.parent
    path = {
        "generation": gen,
        "segment": next(gen.glob("*.seg")),
        "toc": next(gen.glob("_*.toc")),
        "generations": gen.parent,
        "CURRENT": root / "CURRENT",
    }[target]
    path.chmod(path.stat().st_mode | 0o022)
    return path


@pytest.mark.parametrize("target", ["generation", "segment", "toc", "generations", "CURRENT"])
def test_untrusted_new_generation_is_refused_and_the_old_one_serves(
    tmp_path: Path, target: str
) -> None:
    build_index(tmp_path, OLD)
    app = create_app({"INDEX_DIR": str(tmp_path), "TESTING": True})
    client = app.test_client()
    assert _total(client) == 1
    loc = build_index(tmp_path, NEW)  # published while the app runs
    loosened = _loosen(loc.current().path, target)

    assert _total(client) == 1  # still the old generation, no error page
    health = client.get("/api/health").get_json()
    assert health["status"] == "degraded"
    assert f"Index generation {loc.current_name()} is not opened" in health["reason"]
    assert "writable by group or others" in health["reason"]
    assert str(loosened) in health["reason"] and "chmod -R go-w" in health["reason"]

    # Fixed files are picked up at the next retry.
    loosened.chmod(loosened.stat().st_mode & ~0o022)
    app.extensions["dateline_pool"].RETRY_OPEN_S = 0.0
    assert _total(client) == 3
    assert client.get("/api/health").get_json()["status"] == "ok"


def test_permission_check_off_opens_any_generation(tmp_path: Path) -> None:
    build_index(tmp_path, OLD)
    app = create_app({"INDEX_DIR": str(tmp_path), "TESTING": True, "INDEX_PERMISSION_CHECK": False})
    client = app.test_client()
    assert _total(client) == 1
    loc = build_index(tmp_path, NEW)
    _loosen(loc.current().path, "segment")
    assert _total(client) == 3


def test_cold_pool_skips_an_untrusted_current_for_a_trusted_previous(tmp_path: Path) -> None:
    build_index(tmp_path, OLD)
    loc = build_index(tmp_path, NEW)
    _loosen(loc.current().path, "toc")
    pool = SearcherPool(IndexLocation(tmp_path))
    assert pool.generation().name == loc.previous_name()
    assert pool.open_error is not None and "is not opened" in pool.open_error


def test_cold_pool_with_nothing_trusted_is_unavailable(tmp_path: Path) -> None:
    loc = build_index(tmp_path, OLD)
    _loosen(loc.current().path, "segment")
    with pytest.raises(IndexUnavailable, match="writable by group or others"):
        SearcherPool(IndexLocation(tmp_path)).generation()


@pytest.mark.skipif(os.geteuid() != 0, reason="changing a file's owner needs root")
def test_generation_owned_by_someone_else_is_refused(tmp_path: Path) -> None:
    build_index(tmp_path, OLD)
    client = create_app({"INDEX_DIR": str(tmp_path), "TESTING": True}).test_client()
    assert _total(client) == 1
    loc = build_index(tmp_path, NEW)
    os.chown(next(loc.current().path.glob("*.seg")), 54321, 54321)
    assert _total(client) == 1
    assert "owned by uid 54321" in client.get("/api/health").get_json()["reason"]


def test_check_generation_passes_a_fresh_generation_and_names_every_problem(
    tmp_path: Path,
) -> None:
    loc = build_index(tmp_path, OLD)
    gen = loc.current()
    trust.check_generation(gen.name, gen.path)  # built with umask 022: trusted
    files = sorted(p for p in gen.path.iterdir() if p.is_file())
    for path in files:
        path.chmod(0o666)
    with pytest.raises(IndexUnavailable) as refused:
        trust.check_generation(gen.name, gen.path)
    message = refused.value.message
    assert message.count("writable by group or others") == trust.SHOWN
    assert f"(and {len(files) - trust.SHOWN} more)" in message
    assert refused.value.status == 503
