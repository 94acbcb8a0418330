"""Shared pytest fixtures."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

# Jobs renice themselves (DATELINE_JOB_NICE, default 10); tests that run the CLI in this
# process must not leave the whole test run niced. tests/test_job_priority.py sets it.
os.environ.setdefault("DATELINE_JOB_NICE", "0")

if TYPE_CHECKING:
    from flask import Flask
    from flask.testing import FlaskClient

# --- Shared data (../shared/data): extraction golden files ---------------------------------
# Real pages and their truth live beside the repository, never inside it. A fresh checkout
# has no ../shared, so tests that need it skip there with a clear reason; in CI a missing
# folder is a broken setup and fails instead of silently skipping the quality gates.

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Return ../shared/data; skip when it is absent, fail when CI is set."""
    if not SHARED_DATA.is_dir():
        message = f"shared test data not found at {SHARED_DATA}"
        if os.environ.get("CI"):
            pytest.fail(f"{message} (CI is set, so this is an error)")
        pytest.skip(message)
    return SHARED_DATA


# --- end of shared data fixtures -----------------------------------------------------------


# --- The app over a test module's own small index ------------------------------------------
# A test module picks its index either with a module-level INDEX_ARTICLES (built once per
# module by `index_dir` below) or with its own module-scoped `index_dir` fixture (the story
# tests build theirs with the indexer's jobs). `app` and `client` then serve that index, so
# each module still gets its own index and app, as when every module defined them itself.
# Imports are inside the fixtures so that loading this file imports neither Flask nor web.


@pytest.fixture(scope="module")
def index_dir(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Build the requesting module's INDEX_ARTICLES into a published index, once per module."""
    from tests.indexing import build_index

    articles = getattr(request.module, "INDEX_ARTICLES", None)
    if articles is None:
        pytest.fail(f"{request.module.__name__} needs INDEX_ARTICLES or its own index_dir fixture")
    root = tmp_path_factory.mktemp(request.module.__name__.rsplit(".", 1)[-1])
    build_index(root, articles)
    return root


@pytest.fixture(scope="module")
def app(index_dir: Path) -> Flask:
    """Return the app serving the requesting module's `index_dir`."""
    from web import create_app

    return create_app({"INDEX_DIR": str(index_dir), "TESTING": True})


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


# --- end of app fixtures --------------------------------------------------------------------
