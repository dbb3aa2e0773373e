"""Autograded assignments (rob.book.assignments, otter-grader): the instructor solutions score full
marks, the blank student notebooks run and score 0, a plausible wrong solution of each question
loses that question's points, the student files hold no solution and no hidden test, and
``rob grade`` grades bad submissions with zero points instead of crashing.

Most grading here runs otter's own test runner in-process on the tests of the autograder zip (a
notebook's code cells executed in one namespace, as ``otter run`` does in its kernel), which takes
seconds; ``rob grade`` itself (``otter run``, one kernel per submission, about 10 s each) is run on
every instructor solution, one blank notebook and the bad submissions.
"""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import nbformat
import pytest

from rob.book import assignments, chapters

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = list(assignments.sources(ROOT))

#: The function each question asks for.
FUNCS = {
    "memorization": {"q1": "rf_input_grad", "q2": "sobolev_estimate"},
    "regimes": {"q1": "nt_projection", "q2": "normalised_measures"},
    "adversarial-rf": {"q1": "rf_kernels", "q2": "robust_objective"},
    "ntk-features": {"q1": "ntk_gram", "q2": "fgsm"},
    "stability": {"q1": "huber_envelope", "q2": "moreau_step"},
    "implicit-bias": {"q1": "robust_output", "q2": "critical_scale"},
}

#: One plausible mistake per question.
WRONG = {
    "memorization": {
        "q1": "def rf_input_grad(X, W, c):  # the 1/√k is missing\n"
              "    return ((X @ W.T > 0) * c) @ W\n",
        "q2": "def sobolev_estimate(grads):  # the mean norm, not the root mean squared norm\n"
              "    return float(np.mean(np.linalg.norm(grads, axis=1)))\n",
    },
    "regimes": {
        "q1": "def nt_projection(W, B):  # WᵀW taken for the projector (rows not orthogonalised)\n"
              "    Q = np.eye(B.shape[0]) - W.T @ W\n"
              "    return B - Q @ B @ Q\n",
        "q2": "def normalised_measures(Bhat, B):  # norms, not squared norms\n"
              "    nb = np.linalg.norm(B)\n"
              "    return float(np.linalg.norm(Bhat - B) / nb), float(np.linalg.norm(Bhat) / nb)\n",
    },
    "adversarial-rf": {
        "q1": "def rf_kernels(W):  # arccos ρ where π − arccos ρ belongs\n"
              "    rho = np.clip(W @ W.T, -1, 1)\n"
              "    angle = np.arccos(rho)\n"
              "    return (np.sqrt(1 - rho**2) + rho * angle - 1) / (2 * np.pi), rho * angle / (2 * np.pi)\n",
        "q2": "def robust_objective(theta, Z, y, J2, eps):  # the attack helps instead of hurting\n"
              "    t = np.sqrt(theta @ J2 @ theta)\n"
              "    return float(np.mean((np.abs(y - Z @ theta) - eps * t) ** 2) / 2)\n",
    },
    "ntk-features": {
        "q1": "def ntk_gram(X, sw2=2.0, sb2=0.01):  # the κ0·k12 term is missing (the RF kernel)\n"
              "    d = X.shape[1]\n"
              "    k12 = sw2 * X @ X.T / d + sb2\n"
              "    nn = np.sqrt(np.outer(np.diag(k12), np.diag(k12)))\n"
              "    theta = np.arccos(np.clip(k12 / nn, -1, 1))\n"
              "    return sb2 + sw2 * (np.sqrt(np.maximum(nn**2 - k12**2, 0)) + (np.pi - theta) * k12) / (2 * np.pi)\n",
        "q2": "def fgsm(X, y, grad, eps):  # a step along the gradient of the margin\n"
              "    return np.clip(X + eps * np.sign(y[:, None] * grad(X)), 0, 1)\n",
    },
    "stability": {
        "q1": "def huber_envelope(w, lam):  # |w| − λ instead of |w| − λ/2\n"
              "    w = np.asarray(w, float)\n"
              "    env = np.where(np.abs(w) <= lam, w * w / (2 * lam), np.abs(w) - lam)\n"
              "    return env, np.sign(w) * np.maximum(np.abs(w) - lam, 0)\n",
        "q2": "def moreau_step(W, U, grad, eta, lam):  # the outer step uses the old U\n"
              "    U_next = U - eta * (grad(U) + (U - W) / lam)\n"
              "    return W - (eta / lam) * (W - U), U_next\n",
    },
    "implicit-bias": {
        "q1": "def robust_output(X, mu, labels):  # the bias −2 is forgotten\n"
              "    return np.maximum(4 * X @ mu.T / mu.shape[1], 0) @ labels\n",
        "q2": "def critical_scale(margin, n, c_max, n_bisect=60):  # the bracket moves the wrong way\n"
              "    lo, hi = np.zeros(n), np.full(n, float(c_max))\n"
              "    at0, survives = margin(lo) <= 0, margin(hi) > 0\n"
              "    for _ in range(n_bisect):\n"
              "        mid = (lo + hi) / 2\n"
              "        flipped = margin(mid) <= 0\n"
              "        lo, hi = np.where(flipped, mid, lo), np.where(flipped, hi, mid)\n"
              "    return np.where(at0, 0.0, np.where(survives, np.inf, hi))\n",
    },
}


def test_every_chapter_has_an_assignment_with_two_questions():
    assert set(CHAPTERS) == set(chapters.CHAPTERS) == set(FUNCS) == set(WRONG)
    for name in CHAPTERS:
        qs = assignments.questions(nbformat.read(str(ROOT / "assignments" / f"{name}.ipynb"), as_version=4))
        assert [q.name for q in qs] == list(FUNCS[name])
        for q in qs:
            code = "\n".join(c.source for c in q.solution)
            assert f"def {FUNCS[name][q.name]}(" in code and "# BEGIN SOLUTION" in code


@pytest.mark.parametrize("name", CHAPTERS)
def test_book_page_shows_exercises_and_solutions_and_student_strip_removes_them(name):
    from rob.book import student

    nb = nbformat.read(str(ROOT / "assignments" / f"{name}.ipynb"), as_version=4)
    page = assignments.book_page(nb, name)
    text = "\n".join(c.source for c in page.cells)
    assert not any(c.cell_type == "raw" for c in page.cells)
    assert "ASSIGNMENT CONFIG" not in text and "BEGIN QUESTION" not in text and "BEGIN SOLUTION" not in text
    assert "BEGIN TEST CONFIG" not in text, "tests are graded, not shown"
    for q, func in FUNCS[name].items():
        assert f"{{exercise}}\n:label: asg-{name}-{q}" in text
        assert f"{{solution}} asg-{name}-{q}" in text and f"def {func}(" in text
    stripped = "\n".join(c.source for c in student.strip_solutions(page).cells)
    assert "{solution}" not in stripped and "def " not in stripped and "{exercise}" in stripped


# -- built assignments (otter assign) --------------------------------------------------------------

@pytest.fixture(scope="module")
def built(tmp_path_factory) -> dict[str, assignments.Built]:
    out = tmp_path_factory.mktemp("assignments")
    return {b.chapter: b for b in assignments.build(out, root=ROOT)}


def code_cells(nb) -> list[str]:
    """The code a submission runs, without otter's own cells (grader init and checks)."""
    return [c.source for c in nb.cells if c.cell_type == "code"
            and "otter.Notebook(" not in c.source and not c.source.lstrip().startswith("grader.check")]


def grade_in_process(sources: list[str], autograder: Path, tmp_path: Path) -> dict[str, float]:
    """Run ``sources`` in one namespace (a raising cell is skipped, as otter's kernel continues),
    then every test file of the autograder zip with otter's runner; scores per question."""
    from otter.test_files import OKTestFile

    env: dict = {}
    for src in sources:
        try:
            exec(compile(src, "<cell>", "exec"), env)
        except Exception:  # noqa: BLE001 - graded by the tests, as in otter
            pass
    folder = tmp_path / autograder.stem
    with zipfile.ZipFile(autograder) as zf:
        zf.extractall(folder)
    scores = {}
    for path in sorted((folder / "tests").glob("*.py")):
        test = OKTestFile.from_file(str(path))
        test.run(env)
        scores[test.name] = test.score
    return scores


def points(built_one: assignments.Built) -> dict[str, float]:
    return assignments.zip_questions(built_one.autograder)


@pytest.mark.slow
@pytest.mark.parametrize("name", CHAPTERS)
def test_student_notebook_has_no_solution_no_hidden_test_no_output(name, built):
    b = built[name]
    nb = nbformat.read(str(b.student), as_version=4)
    text = "\n".join(c.source for c in nb.cells)
    source = nbformat.read(str(ROOT / "assignments" / f"{name}.ipynb"), as_version=4)
    for q in assignments.questions(source):
        body = "\n".join(c.source for c in q.solution).split("# BEGIN SOLUTION")[1].split("# END SOLUTION")[0]
        for line in body.splitlines():
            if line.strip() and not line.strip().startswith("#"):
                assert line.strip() not in text, f"solution line in the student notebook: {line.strip()}"
    assert "BEGIN" not in text and "HIDDEN" not in text and "from rob" not in text
    for c in nb.cells:
        if c.cell_type == "code":
            assert c.outputs == [] and c.execution_count is None
    tests = nb.metadata["otter"]["tests"]
    assert set(tests) == set(FUNCS[name])
    for spec in tests.values():
        for suite in spec["suites"]:
            assert all(not case["hidden"] for case in suite["cases"])
            assert "import rob" not in "".join(case["code"] for case in suite["cases"])
            assert "from rob" not in "".join(case["code"] for case in suite["cases"])
    with zipfile.ZipFile(b.autograder) as zf:  # the hidden tests are in the autograder only
        assert any("from rob import" in zf.read(n).decode() for n in zf.namelist() if n.startswith("tests/"))


@pytest.mark.slow
@pytest.mark.parametrize("name", CHAPTERS)
def test_solution_full_marks_blank_zero_wrong_loses_each_question(name, built, tmp_path):
    b = built[name]
    possible = points(b)
    assert set(possible) == set(FUNCS[name]) and all(p > 0 for p in possible.values())
    solution = code_cells(nbformat.read(str(b.solution), as_version=4))
    assert grade_in_process(solution, b.autograder, tmp_path) == possible

    blank = code_cells(nbformat.read(str(b.student), as_version=4))
    env: dict = {}
    for src in blank:  # the blank notebook runs without error
        exec(compile(src, "<cell>", "exec"), env)
    assert grade_in_process(blank, b.autograder, tmp_path) == {q: 0 for q in possible}

    def replaced(q: str) -> list[str]:
        return [WRONG[name][q] if f"def {FUNCS[name][q]}(" in src else src for src in solution]

    for q in possible:  # each mistake alone: its question loses its points, the other keeps them
        scores = grade_in_process(replaced(q), b.autograder, tmp_path)
        assert scores[q] == 0, f"{name} {q}: the wrong variant scored {scores[q]}"
        assert all(scores[o] == possible[o] for o in possible if o != q)


# -- rob grade (otter run) -------------------------------------------------------------------------

def rob(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "rob.book.cli", *args], capture_output=True, text=True,
                          cwd=ROOT, timeout=900)


def totals(stdout: str) -> tuple[float, float]:
    line = next(ln for ln in stdout.splitlines() if ln.startswith("total"))
    return float(line.split()[1]), float(line.split()[2])


@pytest.mark.slow
@pytest.mark.parametrize("name", CHAPTERS)
def test_rob_grade_gives_the_instructor_solution_full_marks(name, built):
    b = built[name]
    res = rob("grade", str(b.solution), "--autograder", str(b.autograder))
    assert res.returncode == 0, res.stderr
    score, possible = totals(res.stdout)
    assert score == possible == sum(points(b).values()), res.stdout


@pytest.mark.slow
def test_rob_grade_blank_and_bad_submissions(built, tmp_path):
    b = built["memorization"]
    res = rob("grade", str(b.student), "--chapter", "memorization",
              "--assignments", str(b.student.parent.parent.parent))
    assert res.returncode == 0 and totals(res.stdout) == (0, 4), res.stdout + res.stderr

    # q1 raises, q2's function is missing: zero for both, with the reason, no crash
    nb = nbformat.read(str(b.solution), as_version=4)
    for cell in nb.cells:
        if "def rf_input_grad(" in cell.source:
            cell.source = "raise RuntimeError('student code fails')\n" + cell.source
    nb.cells = [c for c in nb.cells if "def sobolev_estimate(" not in c.source]
    bad = tmp_path / "memorization.ipynb"
    nbformat.write(nb, str(bad))
    res = rob("grade", str(bad), "--autograder", str(b.autograder))
    assert res.returncode == 0 and totals(res.stdout) == (0, 4), res.stdout + res.stderr
    assert "NameError: name 'rf_input_grad' is not defined" in res.stdout
    assert "NameError: name 'sobolev_estimate' is not defined" in res.stdout

    text = tmp_path / "essay.ipynb"
    text.write_text("not a notebook")
    res = rob("grade", str(text), "--autograder", str(b.autograder))
    assert res.returncode == 0 and totals(res.stdout) == (0, 4)
    assert "not a readable Jupyter notebook" in res.stdout


@pytest.mark.parametrize("args, message", [
    (["grade", "no-such-file.ipynb"], "does not exist"),
    (["grade", "README.md", "--autograder", "README.md"], "is not a zip file"),
    (["grade", "README.md"], "cannot tell the chapter"),
    (["grade", "README.md", "--chapter", "nope"], "unknown chapter"),
    (["assignments", "/tmp/x", "--chapters", "nope"], "unknown chapter"),
    (["assignments", "notebooks"], "book's sources"),
    (["assignments", "README.md"], "book's sources"),
])
def test_unusable_paths_exit_2_with_one_line(args, message):
    res = rob(*args)
    assert res.returncode == 2 and res.stdout == ""
    assert len(res.stderr.strip().splitlines()) == 1 and message in res.stderr, res.stderr


@pytest.mark.slow
def test_rebuilding_keeps_other_files_in_the_chapter_folder(tmp_path):
    """`rob assignments` into a folder that already holds collected work replaces only its own files."""
    collected = tmp_path / "regimes" / "submissions" / "alice.ipynb"
    collected.parent.mkdir(parents=True)
    collected.write_text("{}")
    first = assignments.build_one("regimes", tmp_path, ROOT)
    second = assignments.build_one("regimes", tmp_path, ROOT)
    assert collected.read_text() == "{}"
    assert second.student.is_file() and second.autograder.is_file() and first.solution == second.solution
