"""The book's chapters: one entry per notebook, read by ``rob list``, ``rob run`` and ``rob build``.

A chapter adds itself here with its notebook path (relative to the repository root, the same path
as in ``_toc.yml``), the paper, the theorem it states, the expected runtime per scale and the
admissible ranges of its own numeric knobs.  The names and types of the parameters themselves are
read from the notebook's ``parameters`` cell (:func:`declared_parameters`), the one source of
which parameters exist: ``bounds`` and ``choices`` may only constrain parameters the notebook
declares (``tests/test_cli_mistakes.py`` checks this for every chapter).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .params import ParameterError


@dataclass(frozen=True)
class Chapter:
    name: str
    title: str
    notebook: str
    paper: str
    theorem: str
    runtime: dict[str, str]
    bounds: dict[str, tuple[float, float]] = field(default_factory=dict)
    choices: dict[str, tuple[Any, ...]] = field(default_factory=dict)


CHAPTERS: dict[str, Chapter] = {
    c.name: c
    for c in [
        Chapter(
            name="memorization",
            title="Memorization vs robustness",
            notebook="notebooks/memorization.ipynb",
            paper="Dohmatob 2021, arXiv:2106.02630",
            theorem="Every random-features interpolator of noisy labels has Sobolev seminorm ≳ √n "
                    "(√(n/k) in the finite-width NTK regime)",
            runtime={"ci": "about 1 min on 2 CPU cores",
                     "paper": "11.5-12 min with --workers 2 on the 2-core machine (measured: 686 s and 700 s in two "
                              "builds; 6680 tasks, sent in bundles of about 0.5 s; their serial time 18-22 min, "
                              "1.94x on 2 workers)"},
            bounds={"n_test": (100, 100_000)},
        ),
        Chapter(
            name="implicit-bias",
            title="Implicit bias: generalization vs robustness",
            notebook="notebooks/implicit-bias.ipynb",
            paper="Frei, Vardi, Bartlett & Srebro 2023, arXiv:2303.01456",
            theorem="Every KKT point of the margin problem (the limit of gradient flow) generalizes on "
                    "clustered data but is flipped by one universal perturbation of norm ≈ √(d/k), "
                    "while a robust network with radius ≈ √d/2 exists",
            runtime={"ci": "about 10 s on 2 CPU cores",
                     "paper": "half a minute with --workers 2 on the 2-core machine (measured: 27 s and 32 s in two "
                              "builds; the 36 tasks took 15.5-16.7 s on 2 workers and 28-32 s serially; the three "
                              "d = 10000, m = 256 headline networks of 1000 steps, 6-7 s each, bound it)"},
        ),
        Chapter(
            name="regimes",
            title="Robustness across learning regimes",
            notebook="notebooks/regimes.ipynb",
            paper="Dohmatob & Bietti 2022, arXiv:2203.11864",
            theorem="For a quadratic target with infinite data, every RF / lazy (NT) projection and every "
                    "stationary point of full training of a quadratic-activation network has normalised test "
                    "error + normalised Dirichlet energy = 1 (derived for the book); a random initialisation "
                    "of scale α adds an excess ∝ α² to both in lazy training",
            runtime={"ci": "about 30 s on 2 CPU cores (25 s of CPU, 10 s of it the adversarial link and the "
                           "equivalent ridge; 1.5-2 min on a loaded machine)",
                     "paper": "3.2-3.5 min with --workers 2 on the 2-core machine (measured: 194 s and 209 s in two builds; "
                              "91 tasks in one submission, their serial time 6.2-6.4 min, 1.89x on 2 workers)"},
            bounds={"J": (20, 5000)},
        ),
        Chapter(
            name="stability",
            title="Stability and generalization of adversarial training",
            notebook="notebooks/stability.ipynb",
            paper="Zhang, Wang & Arora, NeurIPS 2024 (OpenReview 9Nsa4lVZeD)",
            theorem="Adversarial training of a wide two-layer smooth network is argument-stable with "
                    "Δ_T ≲ ηG(√T + T/n): the robust generalization gap grows with T and shrinks like 1/n, "
                    "so early stopping controls it; GD on the Moreau envelope removes the η√T term "
                    "(the book's derived versions; the paper's statement was not available)",
            runtime={"ci": "about 45 s on a free CPU core (one torch thread); 2-2.5 min on 2 cores shared with other jobs",
                     "paper": "10-13.5 min with --workers 2 on the 2-core machine (measured: 588 s and 804 s in two builds; "
                              "the spec's sizes: 5 replicates, "
                              "r = 8, T = 2000 at n = 200 and 800, n-sweep to T = 400, plus the extras, in 88 tasks; "
                              "their serial time 18.6-23.7 min, 1.84-2.06x on 2 workers)"},
            bounds={"n_test": (500, 20_000), "replaced": (3, 16)},
        ),
        Chapter(
            name="ntk-features",
            title="What the NTK tells us about adversarial robustness",
            notebook="notebooks/ntk-features.ipynb",
            paper="Tsilivis & Kempe 2022, arXiv:2210.05577",
            theorem="Adversarial examples computed from the NTK predictor alone transfer to lazily trained wide "
                    "two-layer networks; the kernel's top eigen-features are robust, its bottom ones useful "
                    "but fragile",
            runtime={"ci": "about 1 min on 2 CPU cores (70 s of CPU, 18 s of it the kernel dynamics under "
                           "adversarial training); 4-5 min on 2 cores shared with other jobs",
                     "paper": "3.2-3.8 min with --workers 2 on the 2-core machine (measured: 189 s and 229 s in two builds; "
                              "80 tasks in one submission, their serial time 5.5-7 min, 1.84-1.93x on 2 workers)"},
            bounds={"alpha": (0.01, 100.0)},
        ),
        Chapter(
            name="adversarial-rf",
            title="The curse of overparametrization in adversarial training",
            notebook="notebooks/adversarial-rf.ipynb",
            paper="Hassani & Javanmard 2024 (Ann. Statist.), arXiv:2201.05149",
            theorem="In the proportional limit the robust test error of adversarially trained random-features "
                    "regression is given by a scalar convex-concave saddle point (Thm 4.2); beyond "
                    "interpolation it rises again with the number of features",
            runtime={"ci": "about 1 min on 2 CPU cores (8 trials at d = 100, eigendecompositions up to N = 2000)",
                     "paper": "4-4.5 min with --workers 2 on the 2-core machine (measured: 237 s and 269 s in two builds; "
                              "16 trials at d = 200, N up to 4000, 3600 fits and 75 PGD checks; their serial time "
                              "7-9 min, 1.88x on 2 workers)"},
        ),
    ]
}


def repo_root(start: str | Path | None = None) -> Path:
    """The book's repository root: the nearest folder above ``start`` (default: the current
    folder, then the installed package) that holds ``_toc.yml`` and ``notebooks/``."""
    candidates = [Path(start or Path.cwd()).resolve(), Path(__file__).resolve().parent]
    for base in candidates:
        for folder in [base, *base.parents]:
            if (folder / "_toc.yml").is_file() and (folder / "notebooks").is_dir():
                return folder
    raise FileNotFoundError("cannot find the book's repository (a folder with _toc.yml and notebooks/); "
                            "run rob from inside a clone of the repository")


def get(name: str) -> Chapter:
    """The chapter called ``name``; a clear error listing the known chapters otherwise."""
    try:
        return CHAPTERS[name]
    except KeyError:
        raise ParameterError(f"unknown chapter {name!r}; known chapters: {', '.join(CHAPTERS)}") from None


def declared_parameters(notebook: str | Path) -> dict[str, Any]:
    """Name → default value of the assignments in the notebook's cell tagged ``parameters``.

    The cell is parsed with :mod:`ast` (papermill's own inspector drops any line with a second
    ``=``, e.g. in a comment); every default must be a Python literal.
    """
    import ast

    import nbformat

    nb = nbformat.read(str(notebook), as_version=4)
    cells = [c for c in nb.cells if c.cell_type == "code" and "parameters" in c.metadata.get("tags", [])]
    if len(cells) != 1:
        raise ParameterError(f"{notebook} must have exactly one code cell tagged 'parameters', has {len(cells)}")
    declared: dict[str, Any] = {}
    for node in ast.parse(cells[0].source).body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            name, value = node.targets[0].id, node.value
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value is not None:
            name, value = node.target.id, node.value
        else:
            raise ParameterError(f"{notebook}: the parameters cell may only hold `name = literal` lines, "
                                 f"found: {ast.unparse(node)}")
        try:
            declared[name] = ast.literal_eval(value)
        except ValueError:
            raise ParameterError(f"{notebook}: parameter {name} must default to a literal, "
                                 f"got {ast.unparse(value)}") from None
    return declared


def validate(chapter: Chapter, given: dict[str, Any], root: Path | None = None) -> dict[str, Any]:
    """Validate ``given`` against the chapter's declared parameters; return the full set."""
    from . import params

    declared = declared_parameters((root or repo_root()) / chapter.notebook)
    return params.validate(declared, given, bounds=chapter.bounds, choices=chapter.choices)
