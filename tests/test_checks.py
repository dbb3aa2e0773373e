"""rob.book.checks: pass/fail rules, the JSON record and the table."""

from __future__ import annotations

import json
import math
import os

import pytest

from rob.book import checks


def report() -> checks.Report:
    return checks.Report("demo", {"scale": "ci", "seed": 3, "device": "cpu"})


def test_rules():
    r = report()
    assert r.within("a", "within", 1.05, 1.0, 0.1).passed
    assert not r.within("b", "within", 1.2, 1.0, 0.1).passed
    assert r.between("c", "between", [0.1, 0.9], 0.0, 1.0).passed
    assert not r.between("d", "between", [0.1, 1.1], 0.0, 1.0).passed  # every entry must pass
    assert r.below("e", "below", 3, 3).passed and not r.below("f", "below", 3.01, 3).passed
    assert r.above("g", "above", 3, 3).passed and not r.above("h", "above", 2.99, 3).passed
    assert r.equal("i", "equal", 4, 4).passed and not r.equal("j", "equal", 4.0001, 4).passed


@pytest.mark.parametrize("value", [math.nan, [1.0, math.nan], math.inf, []])
def test_nan_inf_and_empty_never_pass(value):
    r = report()
    assert not r.between("x", "anything", value, -math.inf, math.inf).passed


def test_duplicate_id_rejected():
    r = report()
    r.below("a", "x", 0, 1)
    with pytest.raises(ValueError):
        r.below("a", "y", 0, 1)


def test_finish_writes_json_and_passes(tmp_path):
    r = report()
    r.within("M1", "slope", 0.52, 0.5, 0.05)
    r.above("M2", "ratios", [1.2, 1.4], 1.0)
    rec = r.finish(tmp_path)
    path = tmp_path / "demo.checks.json"
    data = json.loads(path.read_text())
    assert data == json.loads(json.dumps(rec))
    assert data["chapter"] == "demo" and data["passed"] is True
    assert data["scale"] == "ci" and data["seed"] == 3 and data["device"] == "cpu"
    assert [c["id"] for c in data["checks"]] == ["M1", "M2"]
    assert data["checks"][1]["value"] == [1.2, 1.4]
    assert {"runtime_s", "git_commit", "versions", "created"} <= set(data)
    assert not [p for p in os.listdir(tmp_path) if ".tmp" in p]  # no temporary file left


def test_finish_raises_on_failure_after_writing(tmp_path):
    r = report()
    r.within("M1", "slope", 0.9, 0.5, 0.05)
    r.above("M2", "fine", 2, 1)
    with pytest.raises(checks.ReproductionError, match="M1"):
        r.finish(tmp_path)
    data = checks.load(tmp_path / "demo.checks.json")
    assert data["passed"] is False and [c["passed"] for c in data["checks"]] == [False, True]


def test_finish_raises_without_checks(tmp_path):
    with pytest.raises(checks.ReproductionError, match="no check"):
        report().finish(tmp_path)


def test_json_is_written_atomically(tmp_path, monkeypatch):
    r = report()
    r.above("M1", "x", 1, 0)
    r.finish(tmp_path)
    before = (tmp_path / "demo.checks.json").read_text()

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(checks.os, "replace", broken_replace)
    r2 = report()
    r2.above("M1", "x", 5, 0)
    with pytest.raises(OSError):
        r2.finish(tmp_path)
    assert (tmp_path / "demo.checks.json").read_text() == before  # old record intact


def test_table_columns_and_show():
    r = report()
    r.within("M1", "slope", 0.5, 0.5, 0.1)
    r.below("M2", "error", 2.0, 1.0)
    table = r.table()
    assert list(table.columns) == ["check", "what", "value", "target", "tolerance", "passed"]
    assert list(table["passed"]) == ["pass", "FAIL"]
    html = r.show().data
    assert 'class="dataframe rob-checks"' in html and "rob-checks-wrap" in html
    assert "1 of 2 checks passed" in html
