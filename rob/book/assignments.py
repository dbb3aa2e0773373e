"""Autograded programming assignments (otter-grader), one per chapter.

Sources: ``assignments/<chapter>.ipynb`` in otter-assign format (a raw ``# ASSIGNMENT CONFIG``
cell, then per question raw ``# BEGIN QUESTION`` … ``# END QUESTION`` cells around the prompt,
the solution cell and the test cells; hidden tests compare with ``rob``'s reference
implementations).  Three uses of one source:

- :func:`build` — ``rob assignments OUTDIR`` (``make assignments``): ``otter assign`` per chapter,
  laid out as ``OUTDIR/<chapter>/student/<chapter>.ipynb`` (no solutions, no hidden tests, no
  outputs), ``OUTDIR/<chapter>/<chapter>-autograder.zip`` and
  ``OUTDIR/<chapter>/solution/<chapter>.ipynb`` (the instructor notebook);
- :func:`grade` — ``rob grade SUBMISSION``: ``otter run`` with an autograder zip, parsed into
  per-question scores; a submission that is not a notebook, or that otter cannot run, gets zero
  points with a readable message instead of a crash;
- :func:`book_page` — what ``rob build`` stages as the book page ``assignments/<chapter>.ipynb``: the
  otter cells dropped, each prompt in a sphinx-exercise ``{exercise}`` and each solution cell in a
  ``{solution}`` dropdown, so that ``rob build --student`` hides and strips the solutions as in the
  chapters.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat

from . import chapters

FOLDER = "assignments"
#: The default output folder of ``rob assignments`` / ``make assignments``, under the repository.
DEFAULT_OUT = Path("_build") / "assignments"

_DIRECTIVE = re.compile(r"^\s*#\s*(BEGIN|END)\s+(QUESTION|SOLUTION|TESTS|PROMPT)\b|^\s*#\s*ASSIGNMENT CONFIG", re.I)


class AssignmentError(ValueError):
    """An unusable path or name (reported on one line with exit code 2)."""


# -- sources ---------------------------------------------------------------------------------------

def source_path(chapter: str, root: Path | None = None) -> Path:
    """``assignments/<chapter>.ipynb`` of a registered chapter (raises :class:`AssignmentError`)."""
    root = root or chapters.repo_root()
    if chapter not in chapters.CHAPTERS:
        raise AssignmentError(f"unknown chapter {chapter!r}; known: {', '.join(chapters.CHAPTERS)}")
    path = root / FOLDER / f"{chapter}.ipynb"
    if not path.is_file():
        raise AssignmentError(f"chapter {chapter} has no assignment ({path} is missing)")
    return path


def sources(root: Path | None = None) -> dict[str, Path]:
    """The assignment source of every registered chapter that has one, in registry order."""
    root = root or chapters.repo_root()
    return {name: root / FOLDER / f"{name}.ipynb" for name in chapters.CHAPTERS
            if (root / FOLDER / f"{name}.ipynb").is_file()}


def _raw_kind(cell: Any) -> str | None:
    """``"BEGIN QUESTION"``, ``"END SOLUTION"``, ``"ASSIGNMENT CONFIG"`` … of an otter raw cell."""
    if cell.cell_type != "raw":
        return None
    first = cell.source.strip().splitlines()[0] if cell.source.strip() else ""
    match = _DIRECTIVE.match(first)
    if not match:
        return None
    return "ASSIGNMENT CONFIG" if match.group(1) is None else f"{match.group(1).upper()} {match.group(2).upper()}"


@dataclass
class Question:
    """One question of a source notebook: its name, points, prompt and solution cells."""

    name: str
    points: float
    prompt: list[Any] = field(default_factory=list)
    solution: list[Any] = field(default_factory=list)


def questions(nb: nbformat.NotebookNode) -> list[Question]:
    """The questions of an otter-assign source notebook, in order."""
    import yaml

    out: list[Question] = []
    block = None
    for cell in nb.cells:
        kind = _raw_kind(cell)
        if kind == "BEGIN QUESTION":
            meta = yaml.safe_load(cell.source.split("\n", 1)[1]) or {}
            out.append(Question(str(meta["name"]), float(meta.get("points", 1))))
            block = "prompt"
        elif kind == "BEGIN SOLUTION":
            block = "solution"
        elif kind == "BEGIN TESTS":
            block = "tests"
        elif kind in ("END SOLUTION", "END TESTS"):
            block = "prompt"
        elif kind == "END QUESTION":
            block = None
        elif kind is None and out and block in ("prompt", "solution"):
            getattr(out[-1], block).append(cell)
    return out


# -- the book page ---------------------------------------------------------------------------------

_MARKER_LINE = re.compile(r"^\s*#\s*(BEGIN|END) SOLUTION(\s+NO PROMPT)?\s*$", re.I)
_MARKER_TAIL = re.compile(r"\s*#\s*SOLUTION\s*$", re.I)


def _shown_code(source: str) -> str:
    """A solution cell as the book shows it: otter's ``# BEGIN/END SOLUTION`` lines and
    ``# SOLUTION`` line markers dropped."""
    lines = [_MARKER_TAIL.sub("", line) for line in source.splitlines() if not _MARKER_LINE.match(line)]
    return "\n".join(lines).strip("\n")


def book_page(nb: nbformat.NotebookNode, chapter: str) -> nbformat.NotebookNode:
    """The page the book shows for an assignment source: otter's raw cells and the test cells go;
    each question becomes its heading, an ``{exercise}`` with the prompt and a ``{solution}``
    dropdown with the solution code, which the student build hides and strips (``rob student``'s
    rules).  The page is not executed: its code cells are the setup the student notebook starts with."""
    qs = questions(nb)
    in_question = {id(c) for q in qs for c in q.prompt + q.solution}
    depth = asked = 0
    cells: list[Any] = []
    md = nbformat.v4.new_markdown_cell
    for cell in nb.cells:
        kind = _raw_kind(cell)
        if kind == "BEGIN QUESTION":
            q = qs[asked]
            asked += 1
            prompt = "\n\n".join(c.source for c in q.prompt if c.cell_type == "markdown").strip()
            heading = ""
            if prompt.startswith("#"):
                heading, _, prompt = prompt.partition("\n")
                prompt = prompt.strip()
            label = f"asg-{chapter}-{q.name}"
            text = (f"{heading} ({q.points:g} points)\n\n" if heading else "")
            text += f"`````{{exercise}}\n:label: {label}\n\n{prompt}\n`````\n"
            code = "\n\n".join(_shown_code(c.source) for c in q.solution if c.cell_type == "code")
            if code:
                text += f"\n`````{{solution}} {label}\n:class: dropdown\n\n```python\n{code}\n```\n`````\n"
            cells.append(md(text))
            depth += 1
        elif kind == "END QUESTION":
            depth -= 1
        elif kind is None and cell.cell_type != "raw" and depth == 0 and id(cell) not in in_question:
            cells.append(nbformat.from_dict(cell))
    page = nbformat.v4.new_notebook(metadata=nb.metadata)
    note = md("```{note}\nThe student notebook of this assignment (no solutions, no hidden tests) and its "
              "autograder are built by `rob assignments`, and `rob grade` grades a submission (see the "
              "README, *Fork it for a course*).\n```")
    cells.insert(1 if cells and cells[0].cell_type == "markdown" else 0, note)
    for i, cell in enumerate(cells):
        cell["id"] = f"{chapter}-page-{i:02d}"
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    page.cells = cells
    return page


def stage_pages(root: Path, stage: Path) -> list[Path]:
    """Write the book page of every assignment to ``stage/assignments/<chapter>.ipynb``."""
    written = []
    for name, src in sources(root).items():
        dst = stage / FOLDER / f"{name}.ipynb"
        dst.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(book_page(nbformat.read(str(src), as_version=4), name), str(dst))
        written.append(dst)
    return written


# -- rob assignments -------------------------------------------------------------------------------

def _otter(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "otter", *args], cwd=cwd, capture_output=True, text=True)


@dataclass(frozen=True)
class Built:
    """What ``rob assignments`` wrote for one chapter."""

    chapter: str
    student: Path
    autograder: Path
    solution: Path


def build_one(chapter: str, out_dir: Path, root: Path | None = None) -> Built:
    """``otter assign`` one chapter's source into ``out_dir/<chapter>/`` (see the module docstring)."""
    src = source_path(chapter, root)
    dest = Path(out_dir) / chapter
    with tempfile.TemporaryDirectory(prefix=f"rob-assign-{chapter}-") as tmp:
        dist = Path(tmp) / "dist"
        proc = _otter("assign", "--no-run-tests", "--no-pdfs", str(src), str(dist))
        zips = sorted((dist / "autograder").glob("*-autograder_*.zip"))
        if proc.returncode != 0 or not zips:
            raise RuntimeError(f"otter assign failed for {chapter} (exit {proc.returncode}):\n"
                               f"{(proc.stdout + proc.stderr)[-3000:]}")
        # Only the files this step writes are replaced: anything else in dest (collected
        # submissions, a teacher's notes) is kept.
        (dest / "student").mkdir(parents=True, exist_ok=True)
        (dest / "solution").mkdir(exist_ok=True)
        student = dest / "student" / f"{chapter}.ipynb"
        nb = nbformat.read(str(dist / "student" / f"{chapter}.ipynb"), as_version=4)
        for cell in nb.cells:
            if cell.cell_type == "code":
                cell.outputs, cell.execution_count = [], None
        nbformat.write(nb, str(student))
        for extra in (dist / "student").iterdir():  # support files, if a source ever has some
            if extra.name != student.name:
                if extra.is_dir():
                    shutil.copytree(extra, dest / "student" / extra.name, dirs_exist_ok=True)
                else:
                    shutil.copy2(extra, dest / "student" / extra.name)
        autograder = dest / f"{chapter}-autograder.zip"
        shutil.copy2(zips[-1], autograder)
        solution = dest / "solution" / f"{chapter}.ipynb"
        shutil.copy2(dist / "autograder" / f"{chapter}.ipynb", solution)
    return Built(chapter, student, autograder, solution)


def build(out_dir: Path, only: list[str] | None = None, root: Path | None = None) -> list[Built]:
    """:func:`build_one` for every chapter with an assignment (or the chapters in ``only``)."""
    names = only if only else list(sources(root))
    for name in names:
        source_path(name, root)  # every name checked before anything is built
    return [build_one(name, out_dir, root) for name in names]


# -- rob grade -------------------------------------------------------------------------------------

@dataclass
class Score:
    name: str
    score: float
    possible: float
    message: str = ""


@dataclass
class Grade:
    """Per-question scores of one submission, and a message when it could not be run at all."""

    scores: list[Score]
    message: str = ""

    @property
    def total(self) -> float:
        return sum(s.score for s in self.scores)

    @property
    def possible(self) -> float:
        return sum(s.possible for s in self.scores)

    def by_name(self) -> dict[str, float]:
        return {s.name: s.score for s in self.scores}


def zip_questions(autograder: Path) -> dict[str, float]:
    """``{question: points}`` read from the test files of an autograder zip."""
    out = {}
    with zipfile.ZipFile(autograder) as zf:
        for name in sorted(zf.namelist()):
            if name.startswith("tests/") and name.endswith(".py"):
                env: dict[str, Any] = {}
                exec(compile(zf.read(name).decode(), name, "exec"), env)  # the zip's own test spec
                test = env.get("test", {})
                points = test.get("points")
                if points is None:
                    points = sum(c.get("points") or 0 for s in test.get("suites", []) for c in s.get("cases", []))
                out[str(test.get("name", Path(name).stem))] = float(points)
    return out


def check_autograder(path: Path) -> Path:
    path = Path(path)
    if not path.is_file() or not zipfile.is_zipfile(path):
        raise AssignmentError(f"autograder {path} is not a zip file (build it with: rob assignments OUTDIR)")
    return path


def submission_chapter(path: Path) -> str | None:
    """The chapter a submission belongs to: its otter ``assignment_name``, else its file name."""
    try:
        nb = nbformat.read(str(path), as_version=4)
        name = nb.metadata.get("otter", {}).get("assignment_name")
    except Exception:  # noqa: BLE001 - not a notebook: fall back on the name
        name = None
    name = name or Path(path).stem
    return name if name in chapters.CHAPTERS else None


def _first_failure(output: str) -> str:
    """A one-line reason from otter's test output (the last line of the first error)."""
    lines = [ln.strip() for ln in output.splitlines() if ln.strip()]
    for line in lines:
        if re.match(r"^[A-Za-z_][\w.]*(Error|Exception)\b", line) or line.startswith("AssertionError"):
            return line[:200]
    return ""


def _kernel_env() -> dict[str, str]:
    """The environment of ``otter run``: this environment's own ``python3`` kernel spec first.

    otter executes notebooks with the kernel named ``python3``. ipykernel installs one into
    ``<sys.prefix>/share/jupyter/kernels`` that runs this Python, but a user-level spec of the same
    name (``~/.local/share/jupyter/kernels/python3``) would win over it; ``JUPYTER_PATH`` comes first."""
    env = dict(os.environ)
    share = Path(sys.prefix) / "share" / "jupyter"
    if (share / "kernels" / "python3" / "kernel.json").is_file():
        env["JUPYTER_PATH"] = os.pathsep.join(filter(None, [str(share), env.get("JUPYTER_PATH")]))
    return env


def grade(submission: Path, autograder: Path, timeout: int = 600) -> Grade:
    """Grade ``submission`` with ``otter run`` and the autograder zip; never raises for a bad
    submission (zero points and a message instead)."""
    autograder = check_autograder(autograder)
    submission = Path(submission)
    if not submission.is_file():
        raise AssignmentError(f"submission {submission} does not exist")
    possible = zip_questions(autograder)

    def zero(message: str) -> Grade:
        return Grade([Score(q, 0.0, p, "not graded") for q, p in possible.items()], message)

    try:
        nbformat.validate(nbformat.read(str(submission), as_version=4))
    except Exception as exc:  # noqa: BLE001 - anything unreadable is graded, not raised
        return zero(f"{submission.name} is not a readable Jupyter notebook ({type(exc).__name__}: "
                    f"{str(exc).splitlines()[0][:160] if str(exc) else ''})")
    with tempfile.TemporaryDirectory(prefix="rob-grade-") as tmp:
        sub = Path(tmp) / f"{submission.stem}.ipynb"  # otter wants the .ipynb suffix
        shutil.copy2(submission, sub)
        try:
            proc = subprocess.run([sys.executable, "-m", "otter", "run", "-a", str(autograder.resolve()),
                                   "-o", tmp, str(sub)], capture_output=True, text=True, timeout=timeout,
                                  env=_kernel_env())
        except subprocess.TimeoutExpired:
            return zero(f"grading took longer than {timeout} s (an endless loop?)")
        results = Path(tmp) / "results.json"
        if not results.is_file():
            tail = [ln for ln in (proc.stdout + proc.stderr).splitlines() if ln.strip()][-1:]
            return zero("otter could not run the notebook" + (f": {tail[0][:200]}" if tail else ""))
        data = json.loads(results.read_text())
    scores = []
    seen = {}
    for test in data.get("tests", []):
        if "max_score" in test and test.get("name") in possible:
            seen[test["name"]] = test
    for q, points in possible.items():
        test = seen.get(q)
        if test is None:
            scores.append(Score(q, 0.0, points, "not graded"))
            continue
        score = float(test.get("score") or 0.0)
        msg = "" if score >= points else (_first_failure(test.get("output", "")) or "a hidden test failed")
        scores.append(Score(q, score, points, msg))
    return Grade(scores)


def report(grade_: Grade) -> str:
    """The per-question table printed by ``rob grade``."""
    lines = [f"{'question':<10} {'score':>6} {'max':>6}  note"]
    for s in grade_.scores:
        lines.append(f"{s.name:<10} {s.score:>6g} {s.possible:>6g}  {s.message}".rstrip())
    lines.append(f"{'total':<10} {grade_.total:>6g} {grade_.possible:>6g}")
    if grade_.message:
        lines.append(grade_.message)
    return "\n".join(lines)
