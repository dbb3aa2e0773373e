"""Shared fixtures: the repository root, one temporary on-disk cache for the whole session, and the
book built once per session (shared by ``test_book_build.py`` and ``test_book_browser.py``).

Every test session uses its own ``ROB_CACHE_DIR`` (so tests never read or fill a user's
``~/.cache/rob``); the chapter runs and the book build of one session share it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from rob.book import checks

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


# -- the book, built once per session ------------------------------------------------------------

def rob_command() -> list[str]:
    """The ``rob`` command of this Python environment."""
    script = Path(sys.executable).with_name("rob")
    return [str(script)] if script.exists() else [sys.executable, "-m", "rob.book.cli"]


def copy_sources(dest: Path) -> Path:
    """Copy the book's sources (config, toc, ``book/``, ``notebooks/*.ipynb``, ``assignments/``) into ``dest``."""
    dest.mkdir(parents=True, exist_ok=True)
    for name in ("_config.yml", "_toc.yml"):
        shutil.copy2(ROOT / name, dest / name)
    shutil.copytree(ROOT / "book", dest / "book", ignore=shutil.ignore_patterns("__pycache__"))
    (dest / "notebooks").mkdir()
    for nb in (ROOT / "notebooks").glob("*.ipynb"):
        shutil.copy2(nb, dest / "notebooks" / nb.name)
    shutil.copytree(ROOT / "assignments", dest / "assignments")  # the assignment sources (book pages)
    return dest


def run_build(root: Path, *args: str) -> subprocess.CompletedProcess:
    """``rob build ARGS`` in ``root``; its output goes to ``root/build.log``; fails the test if it fails."""
    env = {**os.environ, "ROB_GIT_COMMIT": checks.git_commit(ROOT), "ROB_PROGRESS": "1"}
    res = subprocess.run(rob_command() + ["build", *args], cwd=root, capture_output=True, text=True,
                         timeout=3600, env=env)
    (root / "build.log").write_text(res.stdout + "\n" + res.stderr)
    assert res.returncode == 0, f"rob build {' '.join(args)} failed:\n{res.stderr[-6000:]}"
    return res


@pytest.fixture(scope="session")
def book(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A book built by `rob build` from a copy of the sources; returns its root (the site is in
    ``<root>/_build/html``).

    With ``ROB_BOOK_ROOT`` set, the book already built there (by ``make book``) is used as it is,
    so that CI can test the very site it publishes without building it twice.
    """
    given = os.environ.get("ROB_BOOK_ROOT")
    if given:
        root = Path(given).resolve()
        if not (root / "_build" / "html" / "index.html").is_file():
            pytest.fail(f"ROB_BOOK_ROOT={given}: no built book in {root / '_build' / 'html'} (run make book)")
        return root
    root = copy_sources(tmp_path_factory.mktemp("book"))
    run_build(root)
    return root


# -- one local Dask cluster (2 single-threaded worker processes on 127.0.0.1) per session ---------

@pytest.fixture(scope="session")
def dask_local2():
    """rob's own ``local:2`` executor, started once (test_executor*.py share it) and stopped at the end."""
    from rob.book import executor

    ex = executor.parse("local:2")
    executor.client_for(ex)
    yield ex
    executor.shutdown()
