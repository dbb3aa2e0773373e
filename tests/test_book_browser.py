"""The built book in a real browser, as a reader sees it (slow: needs the book of ``conftest.book``).

Debian's ``chromium`` (``sudo apt-get install chromium``) runs headless, driven by the Python
``playwright`` package; the site is served on 127.0.0.1 by ``http.server``.  For every page of
``_toc.yml`` the tests check, at a desktop and at a phone viewport: no console error, no failed
local request, no request to any other host (the book works offline), every image loaded, math
typeset by the bundled MathJax, internal links and anchors that resolve, launch and download
buttons that point at existing files, nothing wider than a phone; on chapter pages the theorem
box, a figure and the checks table; and the book's search finds each chapter.

Full-page screenshots of every page (desktop and phone) go to ``_build/screenshots/`` of the
repository (``ROB_SCREENSHOT_DIR`` overrides it).  Without chromium the tests are skipped, except
under CI (``CI`` set), where they fail: CI must run them.

Tables wider than a phone are allowed inside a box that scrolls sideways by design
(``.rob-checks-wrap`` in ``book/_static/rob.css``, ``overflow-x: auto``); the page itself must
never scroll sideways.
"""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

import browser_checks as bc
from rob.book import build

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow

#: Every page of the book, from _toc.yml (root first), e.g. "book/intro".
PAGES = [build._strip_suffix(doc) for doc in build.toc_files(ROOT / "_toc.yml")]
#: The chapter pages (the registered chapters that _toc.yml lists), e.g. "notebooks/memorization".
CHAPTERS = [build._strip_suffix(chapter.notebook) for chapter in build.toc_chapters(ROOT)]
_CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text())
#: The repository (owner/name) and branch that launch buttons must open, from _config.yml.
REPOSITORY = urlsplit(_CONFIG["repository"]["url"]).path.strip("/").removesuffix(".git")
BRANCH = _CONFIG["repository"].get("branch", "main")
#: Launch buttons every chapter page must have, from _config.yml's launch_buttons.
LAUNCH_SERVICES = tuple(name for name, key in (("binder", "binderhub_url"), ("colab", "colab_url"))
                        if _CONFIG.get("launch_buttons", {}).get(key))


def ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def unavailable(reason: str) -> None:
    """Skip on a developer's machine, fail under CI (which must run the browser tests)."""
    if ci():
        pytest.fail(f"{reason}. CI must run the browser tests: .ci/run installs Debian's chromium "
                    "(apt-get install chromium) and make test the playwright package.", pytrace=False)
    pytest.skip(f"{reason}; install it with: sudo apt-get install chromium")


@pytest.fixture(scope="session")
def browser():
    """Headless Debian chromium, through Playwright (one for the session)."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("the playwright Python package is not installed (make test installs it)")
    executable = bc.chromium_path()
    if executable is None:
        unavailable(f"no chromium at {os.environ.get('ROB_CHROMIUM') or bc.CHROMIUM}")
    with sync_playwright() as playwright:
        chromium = bc.launch(playwright, executable)
        yield chromium
        chromium.close()


@dataclass
class Site:
    base: str   # http://127.0.0.1:PORT/
    root: Path  # the folder served


@pytest.fixture(scope="module")
def site(book: Path):
    """The session's built book served on 127.0.0.1."""
    root = book / "_build" / "html"
    with bc.serve(root) as base:
        yield Site(base, root)


@pytest.fixture(scope="session")
def screenshot_dir() -> Path:
    return Path(os.environ.get("ROB_SCREENSHOT_DIR") or ROOT / "_build" / "screenshots")


def shot_name(doc: str, kind: str) -> str:
    return f"{doc.replace('/', '-')}-{kind}.png"


def report(doc: str, problems: list[str]) -> str:
    return f"{doc}: {len(problems)} problem(s):\n  " + "\n  ".join(problems)


def test_toc_lists_pages_and_chapters():
    assert PAGES and PAGES[0] == build._strip_suffix(yaml.safe_load((ROOT / "_toc.yml").read_text())["root"])
    assert CHAPTERS and set(CHAPTERS) <= set(PAGES)


@pytest.mark.parametrize("doc", PAGES)
def test_page_on_desktop(doc, browser, site, screenshot_dir):
    with bc.open_page(browser, f"{site.base}{doc}.html", bc.DESKTOP) as (page, problems):
        bc.screenshot(page, screenshot_dir / shot_name(doc, "desktop"))
        problems += bc.image_problems(page)
        problems += bc.math_problems(page)
        problems += bc.internal_link_problems(page, site.root)
        problems += bc.download_link_problems(page, site.root)
        problems += bc.launch_link_problems(page, ROOT, REPOSITORY, BRANCH,
                                            require=LAUNCH_SERVICES if doc in CHAPTERS else ())
        if doc in CHAPTERS:
            problems += bc.chapter_problems(page)
            # a chapter's checks table fits a desktop column (the status page's scrolls by design)
            problems += bc.column_fit_problems(page, "table.rob-checks")
    assert not problems, report(doc, problems)


@pytest.mark.parametrize("doc", PAGES)
def test_page_on_a_phone(doc, browser, site, screenshot_dir):
    with bc.open_page(browser, f"{site.base}{doc}.html", bc.PHONE) as (page, problems):
        bc.screenshot(page, screenshot_dir / shot_name(doc, "phone"))
        problems += bc.overflow_problems(page)
        problems += bc.image_problems(page)
        problems += bc.math_problems(page)
    assert not problems, report(doc, problems)


@pytest.mark.parametrize("doc", CHAPTERS)
def test_search_finds_the_chapter(doc, browser, site):
    with bc.open_page(browser, f"{site.base}{doc}.html") as (page, problems):
        word = bc.search_word(page)
    assert word, f"{doc}: no word to search for (no theorem box?)"
    with bc.open_page(browser, f"{site.base}search.html?q={word}") as (page, problems):
        results = bc.search_results(page)
    assert f"{site.base}{doc}.html" in results, f"searching {word!r} lists {results}, not {doc}"
    assert not problems, report(f"search.html?q={word}", problems)


# -- the checks catch a broken page ----------------------------------------------------------------

def break_site(html_root: Path, dest: Path, doc: str) -> dict[str, str]:
    """Copy the built site to ``dest`` and break the page ``doc`` on purpose.

    Deletes the image of its first figure and its source download, rewrites its first link to another page into a link to
    a missing page and its first link to an anchor into a missing anchor, points its Colab button
    at a missing notebook, takes the class off its checks table, and adds a paragraph with raw
    TeX, an image from another host and a table wider than a phone.  Returns what was broken.
    """
    shutil.copytree(html_root, dest)
    path = dest / f"{doc}.html"
    text = path.read_text()
    figure = re.search(r'<figure[^>]*>\s*<img[^>]*src="([^"]+)"', text).group(1)
    (path.parent / figure).resolve().unlink()
    source = re.search(r'href="((?:\.\./)*_sources/[^"]+)"', text).group(1)
    (path.parent / source).resolve().unlink()
    link = re.search(r'<a [^>]*href="((?:\.\./)*[\w/-]+\.html)"', text)
    text = text[:link.start(1)] + "no-such-page.html" + text[link.end(1):]
    anchor = re.search(r'<a [^>]*href="#([\w-]+)"', text)
    text = text[:anchor.start(1)] + "no-such-anchor" + text[anchor.end(1):]
    text = re.sub(r'(colab\.research\.google\.com/github/[^"]+?/blob/[^/"]+/)[^"]+', r"\1notebooks/missing.ipynb", text)
    text = text.replace('class="dataframe rob-checks"', 'class="dataframe"')
    extra = ('<p id="broken">Raw $x^2$ and \\(y\\) math, <img alt="x" src="http://example.invalid/pixel.png">'
             '</p><table style="width: 1500px"><tr><td>wide</td></tr></table>')
    text = re.sub(r"(<article[^>]*>)", r"\1" + extra.replace("\\", "\\\\"), text, count=1)
    path.write_text(text)
    return {"figure": Path(figure).name, "source": Path(source).name, "link": link.group(1),
            "anchor": anchor.group(1)}


def test_checks_catch_a_broken_page(browser, book, tmp_path):
    doc = CHAPTERS[0]
    broken = break_site(book / "_build" / "html", tmp_path / "site", doc)
    root = tmp_path / "site"
    with bc.serve(root) as base:
        with bc.open_page(browser, f"{base}{doc}.html", bc.DESKTOP) as (page, network):
            images = bc.image_problems(page)
            links = bc.internal_link_problems(page, root)
            math = bc.math_problems(page)
            chapter = bc.chapter_problems(page)
            launch = bc.launch_link_problems(page, ROOT, REPOSITORY, BRANCH, require=LAUNCH_SERVICES)
            downloads = bc.download_link_problems(page, root)
        with bc.open_page(browser, f"{base}{doc}.html", bc.PHONE) as (page, _):
            overflow = bc.overflow_problems(page)

    assert any(broken["figure"] in p for p in images), images
    assert any("missing page" in p and "no-such-page.html" in p for p in links), links
    assert any("missing anchor #no-such-anchor" in p for p in links), links
    assert any(p.startswith("HTTP 404") and broken["figure"] in p for p in network), network
    assert any("request to another host: http://example.invalid/pixel.png" in p for p in network), network
    assert any("raw TeX" in p and "$x^2$" in p for p in math), math
    assert chapter == ["no checks table (table.rob-checks)"], chapter
    assert any("notebooks/missing.ipynb" in p for p in launch), launch
    assert any("missing file" in p and broken["source"] in p for p in downloads), downloads
    assert any("sticks out" in p and "table" in p for p in overflow), overflow
    assert any("page scrolls sideways" in p for p in overflow), overflow
