"""On-disk cache of expensive computations.

``cached(fn, *args, **kwargs)`` returns ``fn(*args, **kwargs)``, computing it only when no entry
exists for the key

    sha256( fn's module and name, the canonical form of args and kwargs,
            rob.__version__, a fingerprint of rob's source files )

so a change of inputs, of ``rob`` version or of any ``rob`` code invalidates the entry, while a
change of prose or plotting in a notebook does not.  Entries are pickles written to a temporary
file in the cache folder and moved into place with :func:`os.replace`: a run killed mid-write
leaves no entry, never a corrupt one.

Environment: ``ROB_CACHE_DIR`` (default ``~/.cache/rob``); ``ROB_NO_CACHE=1`` bypasses the cache
(nothing read, nothing written), which is what ``rob run --no-cache`` sets.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import os
import pickle
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from .. import __version__

T = TypeVar("T")

#: (function, key, "hit" | "miss" | "off") for every call in this process, for provenance.
EVENTS: list[tuple[str, str, str]] = []


def cache_dir() -> Path:
    """The cache folder: ``$ROB_CACHE_DIR`` or ``~/.cache/rob``."""
    return Path(os.environ.get("ROB_CACHE_DIR") or Path.home() / ".cache" / "rob")


def enabled() -> bool:
    return os.environ.get("ROB_NO_CACHE", "0") in ("", "0")


@functools.lru_cache(maxsize=1)
def source_fingerprint() -> str:
    """sha256 over the bytes of every ``.py`` file of the installed ``rob`` package (the
    mathematics and this machinery alike)."""
    h = hashlib.sha256()
    root = Path(__file__).resolve().parents[1]
    for path in sorted(root.rglob("*.py")):
        h.update(str(path.relative_to(root)).encode())
        h.update(path.read_bytes())
    return h.hexdigest()[:16]


def _canonical(obj: Any) -> Any:
    """A JSON-able form of ``obj`` that is equal for equal inputs (dict order, tuple/list alike)."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {"__dataclass__": type(obj).__qualname__,
                **{f.name: _canonical(getattr(obj, f.name)) for f in dataclasses.fields(obj)}}
    if isinstance(obj, dict):
        return {"__dict__": sorted((str(k), _canonical(v)) for k, v in obj.items())}
    if isinstance(obj, (list, tuple)):
        return [_canonical(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return {"__array__": hashlib.sha256(np.ascontiguousarray(obj).tobytes()).hexdigest(),
                "shape": list(obj.shape), "dtype": str(obj.dtype)}
    if isinstance(obj, (np.integer, np.floating, np.bool_)):
        return _canonical(obj.item())
    if isinstance(obj, float):
        return {"__float__": repr(obj)}
    if obj is None or isinstance(obj, (bool, int, str)):
        return obj
    raise TypeError(f"cannot build a cache key from an object of type {type(obj).__name__}")


def key(fn: Callable[..., Any], args: tuple, kwargs: dict) -> str:
    payload = {"fn": f"{fn.__module__}.{fn.__qualname__}", "args": _canonical(args),
               "kwargs": _canonical(kwargs), "rob": __version__, "source": source_fingerprint()}
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def entry_path(k: str) -> Path:
    """Where the entry of key ``k`` lives: ``<cache dir>/<k[:2]>/<k>.pkl``."""
    return cache_dir() / k[:2] / f"{k}.pkl"


_MISSING = object()


def read_entry(path: Path) -> Any:
    """The value stored at ``path``, or :data:`_MISSING` when there is none (an unreadable entry
    is removed: it is recomputed)."""
    if not path.exists():
        return _MISSING
    try:
        with path.open("rb") as fh:
            return pickle.load(fh)
    except (OSError, EOFError, pickle.UnpicklingError):
        path.unlink(missing_ok=True)
        return _MISSING


def write_entry(path: Path, value: Any, fsync: bool = True) -> None:
    """Write ``value`` to ``path`` atomically: a private temporary file in the same folder, flushed
    to disk, then :func:`os.replace`.  Safe when several processes write the same key at once
    (each writes its own temporary file; the last rename wins and every rename installs a
    complete entry).  ``fsync=False`` skips the flush to the disk (an entry survives a killed
    process either way; only a crash of the machine may lose it)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".pkl")
    try:
        with os.fdopen(fd, "wb") as fh:
            pickle.dump(value, fh, protocol=pickle.HIGHEST_PROTOCOL)
            fh.flush()
            if fsync:
                os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def cached(fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    """``fn(*args, **kwargs)``, read from or written to the on-disk cache."""
    name = f"{fn.__module__}.{fn.__qualname__}"
    if not enabled():
        EVENTS.append((name, "", "off"))
        return fn(*args, **kwargs)
    k = key(fn, args, kwargs)
    path = entry_path(k)
    value = read_entry(path)
    if value is not _MISSING:
        EVENTS.append((name, k, "hit"))
        return value
    value = fn(*args, **kwargs)
    write_entry(path, value)
    EVENTS.append((name, k, "miss"))
    return value
