"""Each chapter runs end to end with ``rob run`` at ci scale and passes every check (slow)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from rob.book import chapters

ROOT = Path(__file__).resolve().parents[1]


def rob_command() -> list[str]:
    script = Path(sys.executable).with_name("rob")
    return [str(script)] if script.exists() else [sys.executable, "-m", "rob.book.cli"]


@pytest.mark.slow
@pytest.mark.parametrize("name", list(chapters.CHAPTERS))
def test_chapter_runs_and_passes_its_checks(name, tmp_path):
    out = tmp_path / "out"
    res = subprocess.run(rob_command() + ["run", name, "--scale", "ci", "--seed", "0", "--out", str(out)],
                         cwd=ROOT, capture_output=True, text=True, timeout=1800,
                         env={**os.environ, "ROB_PROGRESS": "0"})
    assert res.returncode == 0, f"rob run {name} failed:\n{res.stderr[-4000:]}"
    assert f"{name}: checks passed" in res.stdout

    record = json.loads((out / f"{name}.checks.json").read_text())
    assert record["chapter"] == name and record["scale"] == "ci" and record["seed"] == 0
    assert record["checks"], "no checks recorded"
    failed = [c["id"] for c in record["checks"] if not c["passed"]]
    assert not failed, f"failed checks: {failed}"
    assert record["passed"] is True

    assert list(out.glob("*.png")), "no figure written"
    for png in out.glob("*.png"):
        assert png.with_suffix(".svg").is_file()
    executed = nbformat.read(str(out / f"{name}.ipynb"), as_version=4)
    injected = [c for c in executed.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert len(injected) == 1 and str(out) in injected[0].source

    # the run is recorded for `rob status`
    status = subprocess.run(rob_command() + ["status"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert status.returncode == 0
    assert any(line.startswith(name) and str(out) in line for line in status.stdout.splitlines())
