"""Static checks of the book sources: notebooks, table of contents, configuration, citations, pins."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest
import yaml

from rob.book import build, chapters

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
COMMON = {"scale", "seed", "device", "out_dir"}


def read(path: Path) -> nbformat.NotebookNode:
    return nbformat.read(str(path), as_version=4)


def test_there_are_notebooks():
    assert NOTEBOOKS


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_committed_clean(path):
    nb = read(path)
    nbformat.validate(nb)
    assert nb.metadata["kernelspec"]["name"] == "python3"
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            assert cell.outputs == [], f"cell {i} has outputs (clear them before committing)"
            assert cell.execution_count is None, f"cell {i} has an execution count"
        assert "injected-parameters" not in cell.metadata.get("tags", []), "a papermill-executed copy"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_has_one_parameters_cell(path):
    nb = read(path)
    tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1
    declared = chapters.declared_parameters(path)
    assert COMMON <= set(declared), f"missing {COMMON - set(declared)}"
    assert declared["scale"] == "ci" and declared["seed"] == 0 and declared["device"] == "auto"


@pytest.mark.parametrize("name", list(chapters.CHAPTERS))
def test_chapter_defaults_validate_and_finish_writes_checks(name):
    chapter = chapters.CHAPTERS[name]
    chapters.validate(chapter, {}, root=ROOT)
    source = "\n".join(c.source for c in read(ROOT / chapter.notebook).cells if c.cell_type == "code")
    assert re.search(r"\.finish\(\s*out_dir\s*\)", source), "the chapter must end with report.finish(out_dir)"


def test_every_toc_file_exists():
    for doc in build.toc_files(ROOT / "_toc.yml"):
        candidates = [ROOT / doc] if Path(doc).suffix else [ROOT / f"{doc}.md", ROOT / f"{doc}.ipynb"]
        assert any(p.is_file() for p in candidates), f"_toc.yml lists {doc}, which does not exist"


def test_toc_notebooks_and_registered_chapters_agree():
    in_toc = {build._strip_suffix(f) for f in build.toc_files(ROOT / "_toc.yml") if f.startswith("notebooks/")}
    registered = {build._strip_suffix(c.notebook) for c in chapters.CHAPTERS.values()}
    assert in_toc == registered
    assert {f"notebooks/{p.stem}" for p in NOTEBOOKS} == registered


def test_toc_and_config_shape():
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    assert toc["format"] == "jb-book" and toc["root"] == "book/intro"
    files = [c["file"] for c in toc["chapters"]]
    assert files[-2:] == ["book/status", "book/bibliography"]
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    assert config["execute"]["execute_notebooks"] == "off"
    assert config["only_build_toc_files"] is True
    assert config["repository"]["path_to_book"] == ""
    assert {"sphinx_proof", "sphinx_exercise", "sphinx-mathjax-offline"} <= set(config["sphinx"]["extra_extensions"])
    assert config["sphinx"]["config"]["numfig"] is True
    assert config["bibtex_bibfiles"] == ["book/references.bib"]


def bib_keys() -> set[str]:
    return set(re.findall(r"^@\w+\{([^,\s]+),", (ROOT / "book" / "references.bib").read_text(), re.M))


def cited_keys() -> dict[str, set[str]]:
    texts = {p.name: p.read_text() for p in (ROOT / "book").glob("*.md")}
    for path in NOTEBOOKS:
        texts[path.name] = "\n".join(c.source for c in read(path).cells if c.cell_type == "markdown")
    role = re.compile(r"\{cite(?::[a-z]+)?\}`([^`]+)`")
    return {name: {k.strip() for m in role.findall(text) for k in m.split(",")} for name, text in texts.items()}


def test_cited_keys_exist():
    keys = bib_keys()
    assert len(keys) >= 9
    for name, cited in cited_keys().items():
        assert cited <= keys, f"{name} cites unknown keys {sorted(cited - keys)}"


def test_bib_entries_have_author_title_year():
    text = (ROOT / "book" / "references.bib").read_text()
    for entry in re.split(r"\n(?=@)", text)[1:]:
        for field in ("author", "title", "year"):
            assert re.search(rf"^\s*{field}\s*=", entry, re.M), f"{field} missing in {entry[:60]}"


def test_bib_parses_like_sphinxcontrib_bibtex_and_keys_are_unique():
    """The bibliography parses with pybtex (the parser sphinxcontrib-bibtex uses), one entry per key."""
    pybtex_db = pytest.importorskip("pybtex.database")
    text = (ROOT / "book" / "references.bib").read_text()
    keys = re.findall(r"^@\w+\{([^,\s]+),", text, re.M)
    assert len(keys) == len(set(keys)), f"duplicate keys: {sorted(k for k in set(keys) if keys.count(k) > 1)}"
    db = pybtex_db.parse_string(text, "bibtex")
    assert sorted(db.entries) == sorted(keys)


def pins(lines) -> dict[str, str]:
    found = {}
    for line in lines:
        m = re.match(r"^\s*-?\s*([A-Za-z0-9_.\-]+)==(\S+)\s*$", line)
        if m:
            found[m.group(1).lower()] = m.group(2)
    return found


def test_constraints_and_environment_pin_the_same_versions():
    constraints = pins((ROOT / "constraints.txt").read_text().splitlines())
    assert constraints["torch"] == "2.13.0"
    assert constraints["jupyter-book"] == "1.0.4.post1"
    for name in ["sphinx-proof", "sphinx-exercise", "sphinx-mathjax-offline", "papermill", "nbclient",
                 "nbformat", "ipykernel", "numpy", "matplotlib", "seaborn"]:
        assert name in constraints, name
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    assert "python=3.11" in env["dependencies"]
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert pins(pip_section) == constraints
