"""Shared fixtures: real SQLite files in tmp dirs, the recorded data under tests/data."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from paperwire.config import Settings
from paperwire.store import open_store

DATA = Path(__file__).parent / "data"
DEMO = Path(__file__).parent.parent / "demo"


@pytest.fixture
def data_dir() -> Path:
    return DATA


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings.load(env={}, db=str(tmp_path / "test.db"))


@pytest.fixture
def store(settings):
    s = open_store(settings)
    yield s
    s.close()


@pytest.fixture(scope="session")
def demo_records() -> Path:
    return DEMO / "records.jsonl.gz"


@pytest.fixture(scope="session")
def model_cache(tmp_path_factory) -> str:
    # Distilling the static model takes ~15-45 s: once per session, shared by every test module
    # (or reuse a folder given in PAPERWIRE_TEST_MODEL_CACHE between runs).
    return os.environ.get("PAPERWIRE_TEST_MODEL_CACHE") or str(tmp_path_factory.mktemp("models"))
