"""rob.book.student: solutions are stripped from notebooks, everything else is kept."""

from __future__ import annotations

import copy

import nbformat
import pytest

from rob.book import student

md, code = nbformat.v4.new_markdown_cell, nbformat.v4.new_code_cell


def make_notebook() -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    out = nbformat.v4.new_output("stream", name="stdout", text="hello\n")
    nb.cells = [
        md("# Chapter\n\nIntro text."),
        code("x = 1", outputs=[out], execution_count=3),
        md("```{exercise}\n:label: ex-a\n\nQuestion A.\n```\n\n"
           "```{solution} ex-a\n:class: dropdown\n\nBACKTICK-SOLUTION\n```\n\nAfter A."),
        md("````{exercise}\n:label: ex-b\n\nQuestion B with code:\n\n```python\nprint(1)\n```\n````\n\n"
           "````{solution} ex-b\nNESTED-SOLUTION\n\n```python\nprint('answer')\n```\n````\n"),
        md(":::{exercise}\n:label: ex-c\nQuestion C.\n:::\n\n::::{solution} ex-c\nCOLON-SOLUTION\n"
           ":::{note}\ninner note\n:::\n::::\n\nAfter C."),
        code("answer = 42  # SOLUTION-CELL", metadata={"tags": ["solution"]}),
        md("```{exercise-start}\n:label: ex-d\n```\n\nQuestion D.\n\n```{exercise-end}\n```"),
        md("```{solution-start} ex-d\n```\n\nGATED-START"),
        code("gated_code = 1  # GATED-CODE"),
        md("GATED-MIDDLE"),
        md("GATED-END-TEXT\n\n```{solution-end}\n```\n\nKEPT-AFTER-GATE"),
        md("```python\n# a code block that mentions {solution} is kept\n```"),
        md(""),
    ]
    return nb


def text_of(nb) -> str:
    return "\n".join(c.source for c in nb.cells)


def test_solutions_removed_and_rest_kept():
    nb = make_notebook()
    original = copy.deepcopy(nb)
    out = student.strip_solutions(nb)
    text = text_of(out)
    for gone in ["BACKTICK-SOLUTION", "NESTED-SOLUTION", "COLON-SOLUTION", "inner note",
                 "SOLUTION-CELL", "GATED-START", "GATED-CODE", "GATED-MIDDLE", "GATED-END-TEXT",
                 "```{solution", ":::{solution", "print('answer')"]:
        assert gone not in text, gone
    for kept in ["Intro text.", "Question A.", "After A.", "Question B with code:", "print(1)",
                 "Question C.", "After C.", "Question D.", "{exercise-start}", "{exercise-end}",
                 "KEPT-AFTER-GATE", "a code block that mentions"]:
        assert kept in text, kept
    # fences stay balanced in what is kept
    assert out.cells[3].source.count("````") == 2
    assert nb == original  # the input is not modified


def test_outputs_stripped_by_default_and_kept_on_request():
    nb = make_notebook()
    clean = student.strip_solutions(nb)
    code_cells = [c for c in clean.cells if c.cell_type == "code"]
    assert code_cells and all(c.outputs == [] and c.execution_count is None for c in code_cells)
    kept = student.strip_solutions(nb, keep_outputs=True)
    assert [c for c in kept.cells if c.cell_type == "code"][0].outputs


def test_empty_cells_left_by_stripping_are_dropped():
    out = student.strip_solutions(make_notebook())
    # the gated cells vanish entirely; a markdown cell that was empty before stays as it was
    assert sum(1 for c in out.cells if not c.source.strip()) == 1
    assert len(out.cells) == 9


def test_unterminated_gate_is_an_error():
    nb = nbformat.v4.new_notebook()
    nb.cells = [md("```{solution-start} ex\n```\nnever ends")]
    with pytest.raises(student.StripError):
        student.strip_solutions(nb)


def test_strip_file_roundtrip(tmp_path):
    src = tmp_path / "ch.ipynb"
    nbformat.write(make_notebook(), str(src))
    dst = student.strip_file(src, tmp_path / "out" / "ch.ipynb")
    nb = nbformat.read(str(dst), as_version=4)
    nbformat.validate(nb)
    assert "BACKTICK-SOLUTION" not in text_of(nb)


def test_handout_of_the_book_has_no_solutions(tmp_path, repo_root):
    from rob.book.chapters import CHAPTERS

    paths = student.write_handout(tmp_path, root=repo_root)
    assert sorted(p.name for p in paths) == sorted(c.notebook.split("/")[-1] for c in CHAPTERS.values())
    for path in paths:
        nb = nbformat.read(str(path), as_version=4)
        assert "{solution" not in text_of(nb)
        assert not any("solution" in c.metadata.get("tags", []) for c in nb.cells)
        assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code")
