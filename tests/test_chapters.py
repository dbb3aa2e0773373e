"""rob.book.chapters: the registry and the parameters declared by a notebook."""

from __future__ import annotations

import nbformat
import pytest

from rob.book import chapters
from rob.book.params import ParameterError


def notebook_with(tmp_path, source: str, tags=("parameters",)):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# t"),
                nbformat.v4.new_code_cell(source, metadata={"tags": list(tags)})]
    path = tmp_path / "nb.ipynb"
    nbformat.write(nb, str(path))
    return path


def test_declared_parameters_survive_comments_with_equal_signs(tmp_path):
    path = notebook_with(tmp_path, 'scale = "ci"  # "ci" or "paper"\n'
                                   "n_test = 0  # 0 = the scale's default (1000 ci)\n"
                                   "alpha: float = 0.5\n"
                                   "sizes = [1, 2,\n         3]\n"
                                   "# a comment line\n")
    assert chapters.declared_parameters(path) == {"scale": "ci", "n_test": 0, "alpha": 0.5, "sizes": [1, 2, 3]}


def test_declared_parameters_reject_code(tmp_path):
    with pytest.raises(ParameterError, match="literal"):
        chapters.declared_parameters(notebook_with(tmp_path, "import numpy as np\nx = np.ones(3)"))


def test_declared_parameters_need_one_tagged_cell(tmp_path):
    with pytest.raises(ParameterError, match="exactly one"):
        chapters.declared_parameters(notebook_with(tmp_path, "x = 1", tags=()))


def test_get_unknown_chapter_lists_the_known_ones():
    with pytest.raises(ParameterError) as info:
        chapters.get("nope")
    for name in chapters.CHAPTERS:
        assert name in str(info.value)


def test_registry_entries_are_complete():
    for name, chapter in chapters.CHAPTERS.items():
        assert chapter.name == name
        assert chapter.notebook == f"notebooks/{name}.ipynb"
        assert set(chapter.runtime) == {"ci", "paper"}
        assert chapter.title and chapter.paper and chapter.theorem
