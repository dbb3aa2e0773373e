"""rob.book.cache: hits and misses, keys, the ROB_NO_CACHE switch, and interrupted writes."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from rob.book import cache

CALLS: list[tuple] = []


def square(x, scale=1.0, **kw):
    CALLS.append((x, scale, tuple(sorted(kw.items()))))
    return np.asarray(x, dtype=float) ** 2 * scale


@pytest.fixture(autouse=True)
def fresh_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("ROB_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("ROB_NO_CACHE", raising=False)
    CALLS.clear()
    yield tmp_path / "cache"


def entries(folder):
    return sorted(p for p in folder.rglob("*") if p.is_file())


def test_miss_then_hit(fresh_cache):
    a = cache.cached(square, [1, 2, 3])
    b = cache.cached(square, [1, 2, 3])
    np.testing.assert_array_equal(a, b)
    assert len(CALLS) == 1
    assert [e[2] for e in cache.EVENTS[-2:]] == ["miss", "hit"]
    assert len(entries(fresh_cache)) == 1


def test_key_changes_with_args_and_kwargs():
    k = cache.key(square, ([1, 2],), {"scale": 2.0})
    assert k != cache.key(square, ([1, 3],), {"scale": 2.0})
    assert k != cache.key(square, ([1, 2],), {"scale": 3.0})
    assert k != cache.key(square, ([1, 2],), {})
    assert k != cache.key(pow, ([1, 2],), {"scale": 2.0})
    assert cache.key(square, (np.arange(3),), {}) != cache.key(square, (np.arange(3.0),), {})
    cache.cached(square, 2, scale=2.0)
    cache.cached(square, 2, scale=3.0)
    assert len(CALLS) == 2


def test_kwargs_order_does_not_matter():
    assert (cache.key(square, (1,), {"scale": 2.0, "extra": "a"})
            == cache.key(square, (1,), {"extra": "a", "scale": 2.0}))
    cache.cached(square, 1, scale=2.0, extra="a")
    cache.cached(square, 1, extra="a", scale=2.0)
    assert len(CALLS) == 1


def test_no_cache_env_bypasses(fresh_cache, monkeypatch):
    monkeypatch.setenv("ROB_NO_CACHE", "1")
    cache.cached(square, 4)
    cache.cached(square, 4)
    assert len(CALLS) == 2
    assert cache.EVENTS[-1][2] == "off"
    assert not fresh_cache.exists() or not entries(fresh_cache)


def test_write_killed_midway_leaves_no_entry(fresh_cache, monkeypatch):
    real_dump = pickle.dump

    def dump_then_die(obj, fh, *args, **kwargs):
        fh.write(b"partial pickle bytes")
        raise KeyboardInterrupt("killed while writing")

    monkeypatch.setattr(cache.pickle, "dump", dump_then_die)
    with pytest.raises(KeyboardInterrupt):
        cache.cached(square, 5)
    assert entries(fresh_cache) == []  # neither an entry nor a temporary file

    monkeypatch.setattr(cache.pickle, "dump", real_dump)
    assert cache.cached(square, 5) == 25.0
    assert len(CALLS) == 2  # recomputed, then stored
    assert cache.cached(square, 5) == 25.0 and len(CALLS) == 2


def test_corrupt_entry_is_recomputed(fresh_cache):
    cache.cached(square, 6)
    (entry,) = entries(fresh_cache)
    entry.write_bytes(b"not a pickle")
    assert cache.cached(square, 6) == 36.0
    assert len(CALLS) == 2


def test_unhashable_argument_is_an_error():
    with pytest.raises(TypeError):
        cache.key(square, (object(),), {})
