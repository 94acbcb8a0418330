"""Serving replicas: `indexer sync SRC DST` copies the served generation, verifies, flips DST."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from indexer import jobs
from indexer.__main__ import cli
from indexer.pipeline import WORKERS_ENV
from indexer.sync import sync
from indexer.verify import VerificationError
from search.index import MANIFEST, IndexLocation, open_whoosh
from web import create_app

REPO = Path(__file__).resolve().parents[1]
ARTICLES = REPO / "corpus" / "articles"


@pytest.fixture
def builder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> IndexLocation:
    """The indexing node's index: one published generation of the demo article."""
    monkeypatch.setenv(WORKERS_ENV, "0")
    jobs.rebuild([ARTICLES], tmp_path / "builder")
    return IndexLocation(tmp_path / "builder")


def _files(path: Path) -> dict[str, bytes]:
    """The generation's files (Whoosh's empty write-lock file is not part of it)."""
    return {
        p.name: p.read_bytes()
        for p in sorted(path.iterdir())
        if p.is_file() and not p.name.endswith("WRITELOCK")
    }


def test_sync_copies_verifies_and_flips(builder: IndexLocation, tmp_path: Path) -> None:
    replica = IndexLocation(tmp_path / "replica")
    gen = builder.current()
    report = sync(builder.root, replica.root)
    assert report.outcome == "published" and report.generation == gen.name
    assert replica.current_name() == gen.name  # same name: health shows the same generation
    copied = replica.generations_dir / gen.name
    assert _files(copied) == _files(gen.path)
    assert open_whoosh(replica.current()).doc_count() == gen.doc_count
    assert not [p for p in replica.generations_dir.iterdir() if p.name.startswith(".sync")]
    assert (replica.last_job() or {})["job"] == "sync"


def test_sync_again_is_a_no_op(builder: IndexLocation, tmp_path: Path) -> None:
    sync(builder.root, tmp_path / "replica")
    assert sync(builder.root, tmp_path / "replica").outcome == "no-op"


def test_new_generation_replaces_and_previous_stays_for_rollback(
    builder: IndexLocation, tmp_path: Path
) -> None:
    replica = IndexLocation(tmp_path / "replica")
    first = sync(builder.root, replica.root).generation
    second = jobs.rebuild([ARTICLES], builder.root).generation
    assert sync(builder.root, replica.root).generation == second
    assert replica.current_name() == second and replica.previous_name() == first
    jobs.rollback(replica.root)
    assert replica.current_name() == first


def test_corrupt_copy_is_not_served(
    builder: IndexLocation, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A copy whose bytes differ from the source is refused; the replica keeps serving."""
    replica = IndexLocation(tmp_path / "replica")
    first = sync(builder.root, replica.root).generation
    jobs.rebuild([ARTICLES], builder.root)
    import indexer.sync as sync_module

    real = sync_module.shutil.copyfile

    def corrupting(src: str, dst: str) -> str:
        out = real(src, dst)
        if Path(str(dst)).name == MANIFEST:
            with open(dst, "ab") as f:
                f.write(b" ")
        return out

    monkeypatch.setattr(sync_module.shutil, "copyfile", corrupting)
    with pytest.raises(VerificationError, match="differs from the source"):
        sync(builder.root, replica.root)
    assert replica.current_name() == first
    assert replica.list_generations() == [first]  # no staging left behind
    assert (replica.last_job() or {})["outcome"] == "failed"


def test_sync_cli_and_health_show_the_generation(builder: IndexLocation, tmp_path: Path) -> None:
    replica = tmp_path / "replica"
    result = CliRunner().invoke(cli, ["sync", str(builder.root), str(replica)])
    assert result.exit_code == 0, result.output
    assert "sync: copied" in result.output
    app = create_app({"TESTING": True, "INDEX_DIR": str(replica)})
    health = app.test_client().get("/api/health").get_json()
    gen = builder.current()
    assert health["generation"] == gen.name
    assert health["last_build"] == gen.built_at  # so a balancer can drain stale nodes


def test_health_drains_a_replica_serving_another_generation(
    builder: IndexLocation, tmp_path: Path
) -> None:
    replica = tmp_path / "replica"
    old = sync(builder.root, replica).generation
    new = jobs.rebuild([ARTICLES], builder.root).generation
    client = create_app({"TESTING": True, "INDEX_DIR": str(replica)}).test_client()
    stale = client.get(f"/api/health?generation={new}")
    assert stale.status_code == 503
    assert stale.get_json()["status"] == "stale" and stale.get_json()["generation"] == old
    assert client.get(f"/api/health?generation={old}").status_code == 200
    sync(builder.root, replica)  # the node catches up: the same check passes
    assert client.get(f"/api/health?generation={new}").status_code == 200


def test_sync_refuses_an_empty_source(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["sync", str(tmp_path), str(tmp_path / "replica")])
    assert result.exit_code == 1 and "nothing to sync" in result.output
    assert not os.path.exists(tmp_path / "replica" / "CURRENT")
