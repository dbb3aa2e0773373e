"""The rob command line: listing, parameter errors before any compute, status, hand-outs.

These tests are fast: none of them executes a chapter.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from rob.book import chapters


def rob_command() -> list[str]:
    script = Path(sys.executable).with_name("rob")
    return [str(script)] if script.exists() else [sys.executable, "-m", "rob.book.cli"]


def rob(*args: str, cwd: Path, env: dict | None = None, timeout: int = 120) -> subprocess.CompletedProcess:
    import os

    return subprocess.run(rob_command() + list(args), cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, **(env or {})})


def test_list_shows_every_chapter(repo_root):
    res = rob("list", cwd=repo_root)
    assert res.returncode == 0, res.stderr
    for chapter in chapters.CHAPTERS.values():
        assert chapter.name in res.stdout
        assert chapter.paper in res.stdout
        assert chapter.runtime["ci"] in res.stdout


@pytest.mark.parametrize("args, words", [
    (["-p", "bogus=1"], ["bogus", "unknown parameter"]),
    (["--seed", "-1"], ["seed", "non-negative"]),
    (["--scale", "huge"], ["scale", "huge"]),
    (["--device", "tpu"], ["device", "tpu"]),
    (["-p", "n_test=abc"], ["n_test", "type"]),
    (["-p", "n_test=True"], ["n_test", "type"]),
    (["-p", "seed=3"], ["--seed"]),
    (["-p", "out_dir=x"], ["--out"]),
    (["-p", "novalue"], ["name=value"]),
])
def test_run_rejects_bad_parameters_before_computing(repo_root, tmp_path, args, words):
    out = tmp_path / "out"
    res = rob("run", "memorization", "--out", str(out), *args, cwd=repo_root, timeout=60)
    assert res.returncode == 2, (res.stdout, res.stderr)
    message = res.stderr.strip()
    assert len(message.splitlines()) == 1 and "Traceback" not in message, message
    for word in words:
        assert word in message
    assert not out.exists()  # nothing was run or written


def test_run_cuda_without_a_gpu_is_refused_early(repo_root, tmp_path):
    import torch

    if torch.cuda.is_available():
        pytest.skip("a CUDA device is present")
    res = rob("run", "memorization", "--device", "cuda", "--out", str(tmp_path / "o"), cwd=repo_root)
    assert res.returncode == 2 and "cuda" in res.stderr and "Traceback" not in res.stderr
    assert not (tmp_path / "o").exists()


def test_run_unknown_chapter(repo_root, tmp_path):
    res = rob("run", "nonexistent", "--out", str(tmp_path / "o"), cwd=repo_root)
    assert res.returncode == 2
    assert "unknown chapter 'nonexistent'" in res.stderr and "memorization" in res.stderr
    assert not (tmp_path / "o").exists()


def test_build_rejects_unknown_chapter_before_staging(repo_root, tmp_path):
    res = rob("build", "--chapters", "bogus", cwd=repo_root)
    assert res.returncode == 2
    assert "bogus" in res.stderr and "Traceback" not in res.stderr


def test_status_without_and_with_runs(repo_root, tmp_path):
    env = {"ROB_CACHE_DIR": str(tmp_path / "cache")}
    res = rob("status", cwd=repo_root, env=env)
    assert res.returncode == 0 and "no runs recorded" in res.stdout

    runs = tmp_path / "cache" / "runs"
    runs.mkdir(parents=True)
    record = {"chapter": "memorization", "scale": "ci", "seed": 7, "passed": True, "n_passed": 5,
              "n_checks": 5, "runtime_s": 61.2, "created": "2025-01-02T03:04:05+00:00",
              "git_commit": "abc123def456", "out_dir": "/somewhere/out", "error": None, "checks": []}
    (runs / "memorization-ci.json").write_text(json.dumps(record))
    res = rob("status", cwd=repo_root, env=env)
    assert res.returncode == 0, res.stderr
    line = next(l for l in res.stdout.splitlines() if l.startswith("memorization"))
    for text in ["ci", "7", "5/5", "ok", "61 s", "abc123def456", "/somewhere/out"]:
        assert text in line


def test_student_handout_command(repo_root, tmp_path):
    res = rob("student", str(tmp_path / "handout"), cwd=repo_root)
    assert res.returncode == 0, res.stderr
    for chapter in chapters.CHAPTERS.values():
        assert (tmp_path / "handout" / Path(chapter.notebook).name).is_file()
    res = subprocess.run([sys.executable, "-m", "rob.book.student", str(tmp_path / "h2")], cwd=repo_root,
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr


def test_help_lists_the_commands(repo_root):
    res = rob("--help", cwd=repo_root)
    assert res.returncode == 0
    for command in ["list", "run", "status", "build", "student"]:
        assert command in res.stdout


# -- the run and build plumbing, on a tiny stand-in chapter (a few seconds each) ------------------

TINY_PARAMS = 'scale = "ci"\nseed = 0\ndevice = "auto"\nout_dir = "results"'


def tiny_repo(tmp_path: Path, repo_root: Path, body: str) -> Path:
    """A copy of the book's sources in which every chapter notebook is a tiny stand-in."""
    import shutil

    import nbformat

    root = tmp_path / "repo"
    root.mkdir()
    for name in ("_config.yml", "_toc.yml"):
        shutil.copy2(repo_root / name, root / name)
    shutil.copytree(repo_root / "book", root / "book")
    for chapter in chapters.CHAPTERS.values():
        nb = nbformat.v4.new_notebook()
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        nb.cells = [nbformat.v4.new_markdown_cell(f"# {chapter.title}"),
                    nbformat.v4.new_code_cell(TINY_PARAMS, metadata={"tags": ["parameters"]}),
                    nbformat.v4.new_code_cell(body.replace("CHAPTER", chapter.name))]
        (root / chapter.notebook).parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, str(root / chapter.notebook))
    return root


def test_run_injects_out_dir_and_no_cache(repo_root, tmp_path):
    body = ("import os\nfrom rob.book import checks\n"
            "r = checks.Report('CHAPTER', dict(scale=scale, seed=seed, device=device))\n"
            "r.equal('ENV', 'ROB_NO_CACHE reaches the kernel', float(os.environ.get('ROB_NO_CACHE') == '1'), 1.0)\n"
            "r.equal('SEED', 'the seed is injected', seed, 5)\n"
            "r.finish(out_dir)")
    root = tiny_repo(tmp_path, repo_root, body)
    name = next(iter(chapters.CHAPTERS))
    out = tmp_path / "out"
    res = rob("run", name, "--seed", "5", "--no-cache", "--out", str(out), cwd=root,
              env={"ROB_CACHE_DIR": str(tmp_path / "cache")})
    assert res.returncode == 0, res.stderr
    assert f"{name}: checks passed 2/2" in res.stdout and "runtime" in res.stdout
    assert f"{name}.checks.json" in res.stdout and f"{name}.ipynb" in res.stdout
    record = json.loads((out / f"{name}.checks.json").read_text())
    assert record["seed"] == 5 and record["passed"]


def test_run_failure_names_chapter_and_cell(repo_root, tmp_path):
    root = tiny_repo(tmp_path, repo_root, "x = 1\nraise ValueError('boom on purpose')")
    name = next(iter(chapters.CHAPTERS))
    env = {"ROB_CACHE_DIR": str(tmp_path / "cache")}
    res = rob("run", name, "--out", str(tmp_path / "out"), cwd=root, env=env)
    assert res.returncode == 1
    assert f"chapter {name} failed in cell" in res.stderr
    assert "ValueError: boom on purpose" in res.stderr and "execution count" in res.stderr
    status = rob("status", cwd=root, env=env)
    assert "FAILED" in status.stdout and "boom on purpose" in status.stdout


def test_build_stops_at_a_failing_chapter_and_builds_nothing(repo_root, tmp_path):
    root = tiny_repo(tmp_path, repo_root, "raise RuntimeError('chapter is broken')")
    res = rob("build", cwd=root, env={"ROB_CACHE_DIR": str(tmp_path / "cache")})
    assert res.returncode == 1
    assert "the book was not built" in res.stderr and "RuntimeError: chapter is broken" in res.stderr
    assert f"chapter {next(iter(chapters.CHAPTERS))} failed in cell" in res.stderr
    assert not (root / "_build" / "html").exists()


def test_failed_check_fails_the_run(repo_root, tmp_path):
    body = ("from rob.book import checks\nr = checks.Report('CHAPTER', dict(scale=scale, seed=seed))\n"
            "r.below('M1', 'a failing check', 2.0, 1.0)\nr.finish(out_dir)")
    root = tiny_repo(tmp_path, repo_root, body)
    name = next(iter(chapters.CHAPTERS))
    res = rob("run", name, "--out", str(tmp_path / "out"), cwd=root, env={"ROB_CACHE_DIR": str(tmp_path / "c")})
    assert res.returncode == 1 and "ReproductionError" in res.stderr and "M1" in res.stderr
    assert json.loads((tmp_path / "out" / f"{name}.checks.json").read_text())["passed"] is False
