"""Shared fixtures: paths to the bundled sample data (tests use only what is in the repo)."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
DATA = REPO / "data"


@pytest.fixture(scope="session")
def data_dir() -> Path:
    return DATA


@pytest.fixture(scope="session")
def tokenizer_path() -> Path:
    return DATA / "tokenizer.json"
