"""Shared pytest fixtures."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

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
