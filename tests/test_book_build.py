"""`rob build` stages, executes and builds the whole book (slow).

The book is built once per test session (the ``book`` fixture of ``conftest.py``, shared with
``test_book_browser.py``), from a copy of the book's sources in a temporary folder, so a user's
``_build`` is left alone.  The session's temporary ``ROB_CACHE_DIR`` is shared with the chapter runs
of ``test_chapters_run.py``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import nbformat
import pytest
from conftest import copy_sources, run_build

from rob.book import build

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


CHAPTERS = build.toc_chapters(ROOT)


def page(book: Path, doc: str) -> str:
    return (book / "_build" / "html" / f"{doc}.html").read_text()


def test_index_and_pages_exist(book):
    html = book / "_build" / "html"
    assert (html / "index.html").is_file()
    for doc in build.toc_files(ROOT / "_toc.yml"):
        assert (html / f"{build._strip_suffix(doc)}.html").is_file(), doc


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda c: c.name)
def test_chapter_page(book, chapter):
    text = page(book, build._strip_suffix(chapter.notebook))
    assert re.search(r'class="[^"]*\bproof\b[^"]*\btheorem\b', text), "no theorem box"
    assert "<img" in text, "no figure"
    assert 'class="dataframe rob-checks"' in text, "no checks table"
    assert "Traceback" not in text and "it/s]" not in text, "stderr or an error leaked into the page"


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda c: c.name)
def test_launch_and_download_links(book, chapter):
    text = page(book, build._strip_suffix(chapter.notebook))
    nb = chapter.notebook
    assert f"https://mybinder.org/v2/gh/rob-book/robustness-book/main?urlpath=tree/{nb}" in text
    assert f"https://colab.research.google.com/github/rob-book/robustness-book/blob/main/{nb}" in text
    assert f'href="../_sources/{nb}"' in text
    download = nbformat.read(str(book / "_build" / "html" / "_sources" / nb), as_version=4)
    assert any(c.get("outputs") for c in download.cells if c.cell_type == "code"), "download not executed"


def test_math_is_served_offline(book):
    html = book / "_build" / "html"
    assert (html / "_static" / "mathjax" / "tex-chtml.js").is_file()
    for path in [html / "book" / "intro.html"] + [html / f"{build._strip_suffix(c.notebook)}.html" for c in CHAPTERS]:
        text = path.read_text()
        assert re.search(r'<script[^>]*src="\.\./_static/mathjax/tex-chtml\.js', text), path.name
        assert "cdn.jsdelivr.net" not in text and "mathjax@" not in text, path.name


def test_status_page_lists_every_check(book):
    text = page(book, "book/status")
    assert "rob-checks" in text and "checks passed" in text
    for chapter in CHAPTERS:
        record = json.loads((book / "_build" / "stage" / "notebooks" / f"{chapter.name}.checks.json").read_text())
        rows = re.findall(rf"<tr><td[^>]*>{chapter.name}</td><td[^>]*>([^<]+)</td>", text)
        assert sorted(rows) == sorted(c["id"] for c in record["checks"])
        assert record["passed"]


def test_status_page_says_how_it_was_built(book):
    text = re.sub(r"<[^>]+>", "", page(book, "book/status"))  # the words, without the code spans
    assert "at scale ci" in text and "Built with rob build --scale ci --seed 0" in text
    sentence = re.search(r"Sweeps executed [^.]*\.", text)
    assert sentence and "executor " in sentence.group(0) and "worker" in sentence.group(0), sentence


def test_every_page_shows_the_edition_banner(book):
    """The ci edition's banner on every page; a link to the paper edition only if its address was given."""
    import os

    paper = os.environ.get("ROB_EDITION_URL_PAPER", "").strip()
    for doc in build.toc_files(ROOT / "_toc.yml"):
        text = page(book, build._strip_suffix(doc))
        banner = re.search(r'<aside class="bd-header-announcement".*?</aside>', text, re.S)
        assert banner and "<strong>ci edition</strong>" in banner.group(0), doc
        assert re.findall(r'href="([^"]+)"', banner.group(0)) == ([paper] if paper else []), doc


def test_intro_cites_the_papers(book):
    text = page(book, "book/intro")
    for name in ["Dohmatob", "Bietti", "Hassani", "Tsilivis", "Zhang", "Frei", "Bubeck", "Bombari"]:
        assert name in text
    bib = page(book, "book/bibliography")
    for arxiv in ["2106.02630", "2203.11864", "2201.05149", "2210.05577", "2303.01456", "2302.01629"]:
        assert arxiv in bib


def test_stage_holds_sources_only(book):
    stage = book / "_build" / "stage"
    assert sorted(p.name for p in stage.iterdir()) == ["_config.yml", "_toc.yml", "assignments", "book", "notebooks"]
    assert (stage / "book" / "status.md").read_text() != (ROOT / "book" / "status.md").read_text()


def test_student_build_has_no_solutions(book, tmp_path):
    root = copy_sources(tmp_path / "student")
    run_build(root, "--student")
    html = root / "_build" / "html"
    for chapter in CHAPTERS:
        source = nbformat.read(str(ROOT / chapter.notebook), as_version=4)
        if not any("{solution" in c.source for c in source.cells if c.cell_type == "markdown"):
            continue
        download = nbformat.read(str(html / "_sources" / chapter.notebook), as_version=4)
        text = "\n".join(c.source for c in download.cells)
        assert "{solution" not in text
        assert not any("solution" in c.metadata.get("tags", []) for c in download.cells)
        assert any(c.get("outputs") for c in download.cells if c.cell_type == "code")
        page_text = (html / f"{build._strip_suffix(chapter.notebook)}.html").read_text()
        assert 'class="solution' not in page_text
    # the assignment pages: the exercises stay, their solutions (code included) go
    for page in sorted((ROOT / "assignments").glob("*.ipynb")):
        download = nbformat.read(str(html / "_sources" / "assignments" / page.name), as_version=4)
        text = "\n".join(c.source for c in download.cells)
        assert "{exercise}" in text and "{solution" not in text and "def " not in text
        page_text = (html / "assignments" / f"{page.stem}.html").read_text()
        assert 'class="exercise' in page_text and 'class="solution' not in page_text
