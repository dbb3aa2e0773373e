"""Checks that ``rob`` runs before it computes or writes anything.

Each check is a small function that raises :class:`GuardError` (a :class:`ParameterError`, so the
command line reports it on one line with exit code 2):

- :func:`check_out_dir` — an output folder (``rob run --out``, ``rob student OUTDIR``) must not be
  the repository root, contain it, or lie in the book's sources (:data:`SOURCES`, the chapter
  notebooks); it must not be ``""``, an existing file or a path under a file, and it must be
  possible to create it and write into it;
- :func:`check_cache_dir` — the cache folder (``ROB_CACHE_DIR``, where ``rob status`` keeps its
  records too) must be a folder that can be created and written into;
- :func:`find_root` — the clone ``rob`` works on; when the current folder is not inside a clone,
  ``rob`` uses the clone it is installed from and says so on one line.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from . import cache, chapters
from .params import ParameterError

#: The book's sources, relative to the repository root: no output folder may be one of them or
#: lie inside one of them (``rob run --out notebooks`` would overwrite a committed chapter).
SOURCES = ("_config.yml", "_toc.yml", "book", "notebooks", "assignments", "rob", "tests", "benchmarks", "README.md",
           "pyproject.toml", "Makefile", "constraints.txt", "environment.yml", ".git", ".github", ".ci",
           ".venv")


class GuardError(ParameterError):
    """A folder ``rob`` must not or cannot write to (reported on one line, exit code 2)."""


def _inside(path: Path, folder: Path) -> bool:
    """Whether ``path`` is ``folder`` or lies below it (both resolved)."""
    return path == folder or folder in path.parents


def _writable_folder(folder: Path, what: str) -> None:
    """Create ``folder`` (with its parents) and write a scratch file into it; :class:`GuardError`
    naming ``what`` if either fails."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise GuardError(f"{what} {folder} cannot be created: {exc.strerror or exc}") from None
    try:
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as exc:
        raise GuardError(f"{what} {folder} is not writable: {exc.strerror or exc}") from None


def _file_on_the_way(path: Path) -> Path | None:
    """The first existing ancestor of ``path`` that is not a folder, if any."""
    for parent in path.parents:
        if parent.exists():
            return None if parent.is_dir() else parent
    return None


def check_out_dir(text: str, root: Path, option: str = "--out") -> Path:
    """The resolved output folder named by ``text``, created and known to be writable.

    Refused (:class:`GuardError`): ``""``; the repository root or a folder containing it; any
    path in :data:`SOURCES` or below one; a folder holding a chapter notebook; an existing file;
    a path under a file; a folder that cannot be created or written into.
    """
    if not str(text).strip():
        raise GuardError(f"{option} must name a folder, got {str(text)!r}")
    path = Path(text).expanduser()
    resolved = path.resolve()
    root = root.resolve()
    if _inside(root, resolved):
        where = "is" if resolved == root else "contains"
        raise GuardError(f"{option} {text} {where} the repository root {root}; choose a folder outside the "
                         "book's sources, e.g. results/my-run")
    for name in SOURCES:
        source = (root / name).resolve()
        if _inside(resolved, source):
            raise GuardError(f"{option} {text} lies in the book's sources ({root / name}) and would "
                             "overwrite them; choose another folder, e.g. results/my-run")
    for chapter in chapters.CHAPTERS.values():
        notebook = (root / chapter.notebook).resolve()
        if _inside(notebook, resolved):
            raise GuardError(f"{option} {text} holds the source notebook {chapter.notebook} and would "
                             "overwrite it; choose another folder, e.g. results/my-run")
    if path.exists() and not path.is_dir():
        raise GuardError(f"{option} {text} is an existing file, not a folder")
    blocker = _file_on_the_way(resolved)
    if blocker is not None:
        raise GuardError(f"{option} {text} cannot be created: {blocker} is a file")
    _writable_folder(resolved, f"{option} folder")
    return resolved


def check_cache_dir() -> Path:
    """The cache folder (``$ROB_CACHE_DIR`` or ``~/.cache/rob``), created and known to be writable,
    with its ``runs/`` folder for ``rob status``."""
    folder = cache.cache_dir().expanduser()
    what = "the cache folder (ROB_CACHE_DIR)"
    if folder.exists() and not folder.is_dir():
        raise GuardError(f"{what} {folder} is a file, not a folder; point ROB_CACHE_DIR at a writable folder")
    blocker = _file_on_the_way(folder)
    if blocker is not None:
        raise GuardError(f"{what} {folder} cannot be created: {blocker} is a file; point ROB_CACHE_DIR "
                         "at a writable folder")
    _writable_folder(folder, what)
    runs = folder / "runs"
    if runs.exists() and not runs.is_dir():
        raise GuardError(f"{runs} (where rob status keeps its records) is a file, not a folder")
    _writable_folder(runs, "the run records folder")
    return folder


def _clone_above(start: Path) -> Path | None:
    for folder in [start, *start.parents]:
        if (folder / "_toc.yml").is_file() and (folder / "notebooks").is_dir():
            return folder
    return None


def find_root(command: str) -> Path:
    """The clone ``rob COMMAND`` works on (:func:`rob.book.chapters.repo_root`).

    Inside a clone, that clone. Elsewhere, the clone ``rob`` is installed from: the code that runs
    is that clone's code, so its notebooks are the ones that match; one line on stderr says so,
    because the results then land in that clone's ``results/``.
    """
    root = chapters.repo_root()
    if _clone_above(Path.cwd().resolve()) is None:
        print(f"rob {command}: {Path.cwd()} is not inside a clone of the book; using {root}, the clone "
              "rob is installed from", file=sys.stderr, flush=True)
    return root
