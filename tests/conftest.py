"""Shared fixtures: the repository root, and one temporary on-disk cache for the whole session.

Every test session uses its own ``ROB_CACHE_DIR`` (so tests never read or fill a user's
``~/.cache/rob``); the chapter runs and the book build of one session share it.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session", autouse=True)
def session_cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh cache folder for this session, exported for kernels started by the tests."""
    folder = tmp_path_factory.mktemp("rob-cache")
    old = os.environ.get("ROB_CACHE_DIR")
    os.environ["ROB_CACHE_DIR"] = str(folder)
    os.environ.setdefault("ROB_PROGRESS", "0")  # no progress bars in test logs
    yield folder
    if old is None:
        os.environ.pop("ROB_CACHE_DIR", None)
    else:
        os.environ["ROB_CACHE_DIR"] = old


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return ROOT
