"""The rob command under a newcomer's mistakes (issue 18): no overwritten sources, errors before any
compute, honest timeouts, interrupts and status.

Fast: the guards are tested in-process; the three runs that start a kernel use a tiny stand-in
chapter (`tiny_repo`) and take a few seconds each.
"""

from __future__ import annotations

import io
import json
import signal
import subprocess
import sys
import time
import tokenize
from pathlib import Path

import nbformat
import pytest

from rob.book import chapters, checks, guards
from rob.book.params import ParameterError
from test_cli import rob, rob_command, tiny_repo

FIRST = next(iter(chapters.CHAPTERS))  # the chapter the tiny runs stand in for


def one_line_error(res: subprocess.CompletedProcess, *words: str) -> None:
    """Exit code 2 and exactly one line on stderr, holding ``words``, no traceback."""
    assert res.returncode == 2, (res.returncode, res.stdout, res.stderr)
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in res.stderr, res.stderr
    for word in words:
        assert word in lines[0], (word, lines[0])


# -- 1, 3: output folders --------------------------------------------------------------------------

@pytest.mark.parametrize("name, words", [
    (".", ["is the repository root"]),
    ("..", ["contains the repository root"]),
    ("notebooks", ["book's sources"]),
    ("notebooks/new", ["book's sources"]),
    ("book", ["book's sources"]),
    ("_toc.yml", ["book's sources"]),
    ("rob/x", ["book's sources"]),
    ("tests", ["book's sources"]),
])
def test_out_dir_in_the_sources_is_refused(repo_root, name, words):
    with pytest.raises(guards.GuardError) as info:
        guards.check_out_dir(str(repo_root / name), repo_root)
    for word in words:
        assert word in str(info.value)


def test_out_dir_file_under_file_empty_uncreatable(repo_root, tmp_path):
    a_file = tmp_path / "a-file"
    a_file.write_text("x")
    for text, word in [(str(a_file), "existing file"), (str(a_file / "sub"), "is a file"),
                       ("", "must name a folder"), ("  ", "must name a folder")]:
        with pytest.raises(guards.GuardError, match=word):
            guards.check_out_dir(text, repo_root)
    if sys.platform.startswith("linux"):  # /proc takes no new folders, not even from root
        with pytest.raises(guards.GuardError, match="cannot be created"):
            guards.check_out_dir("/proc/rob-no-such-folder/out", repo_root)
    good = guards.check_out_dir(str(tmp_path / "new" / "out"), repo_root)
    assert good.is_dir() and good == (tmp_path / "new" / "out").resolve()


def test_run_out_notebooks_is_refused_and_the_notebook_kept(repo_root, tmp_path):
    root = tiny_repo(tmp_path, repo_root, "raise RuntimeError('must not run')")
    notebook = root / chapters.CHAPTERS[FIRST].notebook
    before = notebook.read_bytes()
    env = {"ROB_CACHE_DIR": str(tmp_path / "cache")}
    one_line_error(rob("run", FIRST, "--out", "notebooks", cwd=root, env=env), "--out notebooks", "sources")
    one_line_error(rob("run", FIRST, "--out", ".", cwd=root, env=env), "repository root")
    one_line_error(rob("run", FIRST, "--out", "", cwd=root, env=env), "must name a folder")
    (root / "a-file").write_text("x")
    one_line_error(rob("run", FIRST, "--out", "a-file/sub", cwd=root, env=env), "is a file")
    assert notebook.read_bytes() == before
    assert not (tmp_path / "cache" / "runs").exists() or not any((tmp_path / "cache" / "runs").iterdir())


def test_student_outdir_checked(repo_root, tmp_path):
    root = tiny_repo(tmp_path, repo_root, "x = 1")
    notebook = root / chapters.CHAPTERS[FIRST].notebook
    before = notebook.read_bytes()
    one_line_error(rob("student", "notebooks", cwd=root), "OUTDIR notebooks", "sources")
    (tmp_path / "a-file").write_text("x")
    one_line_error(rob("student", str(tmp_path / "a-file"), cwd=root), "existing file")
    assert notebook.read_bytes() == before


# -- 2: the cache folder ---------------------------------------------------------------------------

def test_cache_dir_checked(monkeypatch, tmp_path):
    a_file = tmp_path / "a-file"
    a_file.write_text("x")
    for folder, word in [(a_file, "is a file, not a folder"), (a_file / "cache", "is a file")]:
        monkeypatch.setenv("ROB_CACHE_DIR", str(folder))
        with pytest.raises(guards.GuardError, match=word):
            guards.check_cache_dir()
    monkeypatch.setenv("ROB_CACHE_DIR", str(tmp_path / "cache"))
    assert guards.check_cache_dir() == tmp_path / "cache" and (tmp_path / "cache" / "runs").is_dir()


def test_run_with_a_file_as_cache_fails_before_computing(repo_root, tmp_path):
    root = tiny_repo(tmp_path, repo_root, "raise RuntimeError('must not run')")
    a_file = tmp_path / "a-file"
    a_file.write_text("x")
    res = rob("run", FIRST, "--out", str(tmp_path / "out"), cwd=root, env={"ROB_CACHE_DIR": str(a_file)})
    one_line_error(res, "ROB_CACHE_DIR", str(a_file))
    assert not (tmp_path / "out").exists()


# -- 4, 6 (terminal noise): a cell timeout ---------------------------------------------------------

def test_timeout_names_the_cell_and_the_limit(repo_root, tmp_path):
    body = ("from IPython.display import HTML, display\nimport time\n"
            "display(HTML('<b>rich</b>'))\nprint('hello from the chapter')\ntime.sleep(120)")
    root = tiny_repo(tmp_path, repo_root, body)
    path = root / chapters.CHAPTERS[FIRST].notebook
    nb = nbformat.read(str(path), as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell("print('never')"))
    nbformat.write(nb, str(path))
    out = tmp_path / "out"
    res = rob("run", FIRST, "--timeout", "2", "--out", str(out), cwd=root,
              env={"ROB_CACHE_DIR": str(tmp_path / "cache")})
    assert res.returncode == 1, res.stderr
    # papermill injects its parameters cell after cell 1: the sleeping cell is cell 3
    assert f"chapter {FIRST} timed out in cell 3" in res.stderr and "limit of 2 s" in res.stderr
    assert "before any cell ran" not in res.stderr
    assert "hello from the chapter" in res.stderr  # the chapter's own output still streams
    assert "without encryption" not in res.stderr and "IPython.core.display.HTML object" not in res.stderr
    saved = nbformat.read(str(out / f"{FIRST}.ipynb"), as_version=4)
    status = [c.metadata.get("papermill", {}).get("status") for c in saved.cells]
    assert status[3] == "failed" and status[4] != "completed", status


# -- 5: interrupts ---------------------------------------------------------------------------------

OK_RECORD = {"chapter": FIRST, "scale": "ci", "seed": 0, "passed": True, "n_passed": 5, "n_checks": 5,
             "runtime_s": 61.2, "created": "2025-01-02T03:04:05+00:00", "git_commit": "abc123def456",
             "out_dir": "/somewhere/out", "error": None, "checks": []}


@pytest.mark.parametrize("signum, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_interrupted_run_is_recorded(repo_root, tmp_path, signum, code):
    import os

    out = tmp_path / "out"
    root = tiny_repo(tmp_path, repo_root, "import pathlib, time\npathlib.Path(out_dir, 'started').touch()\n"
                                          "time.sleep(120)")
    env = {**os.environ, "ROB_CACHE_DIR": str(tmp_path / "cache")}
    (tmp_path / "cache" / "runs").mkdir(parents=True)
    (tmp_path / "cache" / "runs" / f"{FIRST}-ci.json").write_text(json.dumps(OK_RECORD))  # an earlier run
    proc = subprocess.Popen(rob_command() + ["run", FIRST, "--out", str(out)], cwd=root, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 90
    while not (out / "started").exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    assert (out / "started").exists(), proc.communicate(timeout=30)
    proc.send_signal(signum)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == code, stderr
    assert f"interrupted ({signal.Signals(signum).name})" in stderr
    record = json.loads((tmp_path / "cache" / "runs" / f"{FIRST}-ci.json").read_text())
    assert record["interrupted"] and not record["passed"] and record["runtime_s"] > 0
    status = rob("status", cwd=root, env={"ROB_CACHE_DIR": str(tmp_path / "cache")})
    line = next(l for l in status.stdout.splitlines() if l.startswith(FIRST))
    assert "INTERRUPTED" in line and " ok " not in line
    assert f"interrupted ({signal.Signals(signum).name}) after" in status.stdout


# -- 6: registry, defaults, checks JSON, status, outside a clone ------------------------------------

@pytest.mark.parametrize("name", list(chapters.CHAPTERS))
def test_registry_constrains_only_declared_parameters(repo_root, name):
    chapter = chapters.CHAPTERS[name]
    declared = chapters.declared_parameters(repo_root / chapter.notebook)
    assert set(chapter.bounds) | set(chapter.choices) <= set(declared)


@pytest.mark.parametrize("name, given", [("memorization", {"n_test": 0}), ("stability", {"n_test": 0, "replaced": 0}),
                                         ("regimes", {"J": 0})])
def test_documented_default_sentinel_is_accepted(repo_root, name, given):
    params = chapters.validate(chapters.CHAPTERS[name], given, root=repo_root)
    assert all(params[k] == v for k, v in given.items())


def test_out_of_range_value_still_refused(repo_root):
    with pytest.raises(ParameterError, match=r"n_test must lie in .* or be its default 0, got 50"):
        chapters.validate(chapters.CHAPTERS["memorization"], {"n_test": 50}, root=repo_root)


def test_checks_record_the_device_and_threads_used():
    import torch
    from threadpoolctl import threadpool_limits

    from rob.book.params import torch_threads

    with torch_threads(1), threadpool_limits(limits=1, user_api="blas"):
        rec = checks.Report("demo", {"scale": "ci", "seed": 0, "device": "auto"}).record()
    assert rec["device"] == ("cuda" if torch.cuda.is_available() else "cpu")
    assert rec["params"]["device"] == "auto"  # what was asked stays with the parameters
    assert rec["threads"]["torch"] == 1 and rec["threads"]["blas"] in (1, None)
    assert "cpu_threads" not in rec
    assert checks.Report("demo", {"device": "auto"}, device="cpu").record()["device"] == "cpu"


def test_status_skips_malformed_records(repo_root, tmp_path):
    runs = tmp_path / "cache" / "runs"
    runs.mkdir(parents=True)
    (runs / f"{FIRST}-ci.json").write_text(json.dumps({**OK_RECORD, "seed": 7}))
    (runs / "broken.json").write_text("{not json")
    (runs / "a-list.json").write_text("[]")
    (runs / "wrong-types.json").write_text(json.dumps({**OK_RECORD, "chapter": "stability", "runtime_s": "fast"}))
    res = rob("status", cwd=repo_root, env={"ROB_CACHE_DIR": str(tmp_path / "cache")})
    assert res.returncode == 0 and "Traceback" not in res.stderr, res.stderr
    line = next(l for l in res.stdout.splitlines() if l.startswith(FIRST))
    assert "5/5" in line and "ok" in line
    for name in ["broken.json", "a-list.json", "wrong-types.json"]:
        assert name in res.stderr and "malformed" in res.stderr
    assert not any(l.startswith("stability") for l in res.stdout.splitlines())


def test_outside_a_clone_rob_says_which_clone_it_uses(tmp_path):
    res = rob("student", str(tmp_path / "handout"), cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    root = chapters.repo_root()
    assert f"is not inside a clone of the book; using {root}" in res.stderr
    assert (tmp_path / "handout" / Path(chapters.CHAPTERS[FIRST].notebook).name).is_file()


# -- 7: figure panels lettered once, in reading order, and the caption matches -----------------------

def _letters(texts: list[str], pattern: str = r"(?<![\w\\])\(([a-z])\)(?=\s)") -> list[str]:
    """The panel letters "(a) " in ``texts``, in order (not a function argument such as z(x))."""
    import re

    return [m for text in texts for m in re.findall(pattern, text)]


def _figure_cells(notebook: Path, label: str) -> tuple[str, str]:
    nb = nbformat.read(str(notebook), as_version=4)
    code = next(c.source for c in nb.cells if c.cell_type == "code" and f'glue("{label}"' in c.source)
    caption = next(c.source for c in nb.cells if c.cell_type == "markdown" and f"{{glue:figure}} {label}" in c.source)
    return code, caption.split("```")[1]


@pytest.mark.parametrize("notebook, label", [("notebooks/implicit-bias.ipynb", "fig-ib-main"),
                                             ("notebooks/ntk-features.ipynb", "fig-nf-main"),
                                             ("notebooks/ntk-features.ipynb", "fig-nf-dynamics")])
def test_panel_letters_once_in_reading_order(repo_root, notebook, label):
    code, caption = _figure_cells(repo_root / notebook, label)
    strings = [tok.string for tok in tokenize.generate_tokens(io.StringIO(code).readline)
               if tok.type in (tokenize.STRING, getattr(tokenize, "FSTRING_MIDDLE", -1))]
    panels = _letters(strings, r"^[A-Za-z]*[\"']+\(([a-z])\) ")  # titles start with their letter
    expected = [chr(ord("a") + i) for i in range(len(panels))]
    assert panels == expected, f"panel titles lettered {panels}"
    # The caption describes every panel, first mentioned in reading order (a later "(b) and (c)" may refer back).
    first = list(dict.fromkeys(_letters([caption])))
    assert first == expected, f"caption letters, first mentions: {first}"


def test_build_of_some_chapters_has_no_dangling_links(tmp_path):
    """``rob build --chapters X`` drops the other chapters from the staged book; the intro's links
    to them become their titles, so that the ``-W`` build has no unknown document."""
    from rob.book import build

    (tmp_path / "book").mkdir()
    (tmp_path / "book" / "intro.md").write_text(
        "See {doc}`../notebooks/regimes` and {doc}`the last one <../notebooks/implicit-bias>`, "
        "and {doc}`status`.\n", encoding="utf-8")
    build._unlink_dropped(tmp_path, {"notebooks/regimes", "notebooks/implicit-bias"})
    text = (tmp_path / "book" / "intro.md").read_text(encoding="utf-8")
    assert text == ("See *Robustness across learning regimes* (not in this build) and "
                    "*the last one* (not in this build), and {doc}`status`.\n")
