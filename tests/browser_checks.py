"""Checks of the built book as a reader's browser shows it (headless Chromium through Playwright).

Plain functions, used by ``tests/test_book_browser.py``.  Each ``*_problems`` function looks at one
open page and returns a list of problems, one readable line each (an empty list: all is well),
so that a test can show every problem at once and a negative test can assert that a broken page
is caught.

The browser is Debian's ``chromium`` (``apt-get install chromium``), started by the Python
``playwright`` package with ``executable_path``: Playwright's own browser downloads are not used.
The site is served by Python's ``http.server`` on 127.0.0.1; every request to another host is
recorded as a problem and aborted before it leaves the machine, so a page that passes reads the
same offline.
"""

from __future__ import annotations

import functools
import html.parser
import http.server
import os
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, unquote, urlsplit

if TYPE_CHECKING:
    from playwright.sync_api import Browser, ConsoleMessage, Page, Playwright, Request, Response, Route

#: Debian's chromium (``ROB_CHROMIUM`` overrides it).
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--no-first-run", "--disable-sync", "--disable-quic",
]
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


# -- browser and server ------------------------------------------------------------------------

def chromium_path() -> Path | None:
    """The Chromium binary to drive, or ``None`` when it is not installed."""
    path = Path(os.environ.get("ROB_CHROMIUM") or CHROMIUM)
    return path if path.is_file() and os.access(path, os.X_OK) else None


def launch(playwright: Playwright, executable: Path) -> Browser:
    """Start headless Chromium; Playwright gives every launch a fresh temporary user data dir."""
    return playwright.chromium.launch(executable_path=str(executable), args=CHROMIUM_ARGS,
                                      headless=True, timeout=60_000)


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args) -> None:  # noqa: A002 - the base class's name
        pass


@contextmanager
def serve(directory: Path) -> Iterator[str]:
    """Serve ``directory`` on 127.0.0.1 (a free port) in a thread; yields the base URL ending in ``/``."""
    handler = functools.partial(_QuietHandler, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def origin(url: str) -> str:
    """``scheme://host:port`` of a URL."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


# -- opening a page ----------------------------------------------------------------------------

_SETTLE_JS = """async () => {
  // lazy images load without scrolling; then wait for every image to finish (or fail)
  for (const img of document.images) if (img.loading === "lazy") img.loading = "eager";
  await Promise.all(Array.from(document.images, img => img.complete ? null :
      new Promise(done => { img.addEventListener("load", done); img.addEventListener("error", done); })));
  // MathJax 3 typesets once after loading; startup.promise resolves when it is done
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) await MathJax.startup.promise;
  await document.fonts.ready;
}"""


@contextmanager
def open_page(browser: Browser, url: str, viewport: dict[str, int] = DESKTOP) -> Iterator[tuple[Page, list[str]]]:
    """Open ``url`` in a fresh browser context (a new reader: no cache, no local storage).

    Yields ``(page, problems)``: ``problems`` collects, while the page is open, console errors,
    uncaught exceptions, failed requests and responses >= 400 from the local server, and every
    request to another host (aborted).  The page has loaded, its images have finished and MathJax
    has typeset when the caller gets it.
    """
    local = origin(url)
    # Chromium asks for /favicon.ico of the server on its own; the book has no favicon and does
    # not link one, so that 404 is the browser's, not a page's (on GitHub Pages it is github.io's).
    favicon = local + "/favicon.ico"
    problems: list[str] = []
    phone = viewport["width"] < 600
    context = browser.new_context(viewport=viewport, is_mobile=phone, has_touch=phone,
                                  service_workers="block")

    def on_route(route: Route) -> None:
        request_url = route.request.url
        if origin(request_url) == local or urlsplit(request_url).scheme not in ("http", "https", "ws", "wss"):
            route.continue_()
        else:
            problems.append(f"request to another host: {request_url}")
            route.abort("blockedbyclient")

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error" and (message.location or {}).get("url") != favicon:
            problems.append(f"console error: {message.text} ({(message.location or {}).get('url', '')})")

    def on_failed(request: Request) -> None:
        if origin(request.url) == local and request.url != favicon:
            problems.append(f"failed request: {request.url} ({request.failure})")

    def on_response(response: Response) -> None:
        if response.status >= 400 and origin(response.url) == local and response.url != favicon:
            problems.append(f"HTTP {response.status}: {response.url}")

    context.route("**/*", on_route)
    page = context.new_page()
    page.on("console", on_console)
    page.on("pageerror", lambda error: problems.append(f"uncaught exception: {error}"))
    page.on("requestfailed", on_failed)
    page.on("response", on_response)
    page.on("websocket", lambda ws: problems.append(f"websocket: {ws.url}"))
    try:
        response = page.goto(url, wait_until="load", timeout=60_000)
        if response is None or response.status >= 400:
            problems.append(f"page did not load: {url} ({response.status if response else 'no response'})")
        page.evaluate(_SETTLE_JS)
        yield page, problems
    finally:
        context.close()


def screenshot(page: Page, path: Path) -> Path:
    """A full-page PNG of ``page`` at ``path`` (folders are created)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path), full_page=True, animations="disabled")
    return path


# -- the checks --------------------------------------------------------------------------------

def image_problems(page: Page) -> list[str]:
    """Every ``<img>`` of the page has loaded (``naturalWidth > 0``)."""
    broken = page.evaluate("""() => Array.from(document.images)
        .filter(img => !(img.complete && img.naturalWidth > 0))
        .map(img => img.getAttribute("src"))""")
    return [f"image not loaded: {src}" for src in broken]


_MATH_JS = r"""() => {
  const math = Array.from(document.querySelectorAll(".math"));
  const unrendered = math.filter(el => !el.querySelector("mjx-container"))
                         .map(el => el.textContent.trim().slice(0, 80));
  const errors = Array.from(document.querySelectorAll("mjx-merror"), el => el.textContent.slice(0, 80));
  // the page's text without code, scripts and typeset math: what is left must hold no TeX
  const clone = document.body.cloneNode(true);
  clone.querySelectorAll("pre, code, script, style, textarea, noscript, template, mjx-container, .highlight")
       .forEach(el => el.remove());
  const text = clone.textContent.replace(/\s+/g, " ");
  return {n_math: math.length, n_mjx: document.querySelectorAll("mjx-container").length,
          unrendered, errors, text};
}"""

#: TeX left in the text: \( \) \[ \] delimiters, $$, $...$ on one stretch of text, \begin{...}.
RAW_TEX = re.compile(r"\\[()\[\]]|\$\$|\$[^$\s][^$]{0,200}?\$|\\begin\{")


def math_problems(page: Page) -> list[str]:
    """Math is typeset by MathJax: no raw TeX delimiters in the text, every ``.math`` element holds
    an ``mjx-container``, and MathJax reported no TeX error."""
    found = page.evaluate(_MATH_JS)
    problems = [f"raw TeX in the text: ...{found['text'][max(0, m.start() - 40):m.end() + 40]}..."
                for m in list(RAW_TEX.finditer(found["text"]))[:5]]
    if found["unrendered"]:
        problems.append(f"{len(found['unrendered'])} of {found['n_math']} math elements not typeset, "
                        f"e.g. {found['unrendered'][0]!r}")
    problems += [f"MathJax error: {text}" for text in found["errors"]]
    return problems


def chapter_problems(page: Page) -> list[str]:
    """A chapter page shows a theorem box, a figure with its image, the checks table and typeset math."""
    found = page.evaluate("""() => {
      const visible = sel => Array.from(document.querySelectorAll(sel))
          .filter(el => el.getBoundingClientRect().width > 0 && el.getBoundingClientRect().height > 0).length;
      return {theorem: visible("article .theorem"), figure: visible("article figure img"),
              checks: visible("article table.rob-checks"), math: document.querySelectorAll("mjx-container").length};
    }""")
    wanted = {"theorem": "no theorem box (sphinx-proof, class theorem)",
              "figure": "no figure (an img inside a figure)",
              "checks": "no checks table (table.rob-checks)",
              "math": "no typeset math (mjx-container)"}
    return [message for key, message in wanted.items() if not found[key]]


def parse_launch_url(url: str) -> tuple[str, str, str] | None:
    """``(owner/name, branch, path)`` of the repository file that a Binder or Colab launch URL
    opens, or ``None`` if it is neither.

    ``https://mybinder.org/v2/gh/OWNER/NAME/BRANCH?urlpath=tree/PATH`` and
    ``https://colab.research.google.com/github/OWNER/NAME/blob/BRANCH/PATH`` give
    ``("OWNER/NAME", "BRANCH", "PATH")``.
    """
    parts = urlsplit(url)
    if "binder" in parts.netloc:
        repo = re.match(r"/v2/gh/([^/]+/[^/]+)/([^/]+)", parts.path)
        urlpath = parse_qs(parts.query).get("urlpath", [""])[0]
        for prefix in ("lab/tree/", "tree/", "notebooks/", "voila/render/"):
            if repo and urlpath.startswith(prefix):
                return repo.group(1), unquote(repo.group(2)), unquote(urlpath[len(prefix):])
        return None
    if "colab" in parts.netloc:
        match = re.match(r"/github/([^/]+/[^/]+)/blob/([^/]+)/(.+)", parts.path)
        return (match.group(1), unquote(match.group(2)), unquote(match.group(3))) if match else None
    return None


def launch_link_problems(page: Page, repo_root: Path, repository: str, branch: str,
                         require: tuple[str, ...] = ()) -> list[str]:
    """The launch buttons (Binder, Colab) open files that exist in this repository.

    ``repository`` (``owner/name``) and ``branch`` are the ones of ``_config.yml``; ``require``
    names services (``"binder"``, ``"colab"``) whose button must be on the page.
    """
    hrefs = page.eval_on_selector_all(".dropdown-launch-buttons a[href]", "els => els.map(a => a.href)")
    problems = []
    for service in require:
        if not any(service in urlsplit(href).netloc for href in hrefs):
            problems.append(f"no {service} launch button")
    for href in hrefs:
        parsed = parse_launch_url(href)
        if parsed is None:
            problems.append(f"launch link with no repository path: {href}")
            continue
        repo, ref, path = parsed
        if (repo, ref) != (repository, branch):
            problems.append(f"launch link to {repo}@{ref}, not {repository}@{branch}: {href}")
        if not (repo_root / path).is_file():
            problems.append(f"launch link to {path}, which is not in the repository: {href}")
    return problems


def _site_file(url: str, site_root: Path) -> Path:
    """The file of the served site that a local URL names (``/`` ends in ``index.html``)."""
    path = unquote(urlsplit(url).path).lstrip("/")
    target = site_root / path
    return target / "index.html" if path == "" or path.endswith("/") or target.is_dir() else target


def download_link_problems(page: Page, site_root: Path) -> list[str]:
    """The download buttons (source ``.ipynb``/``.md``) link to files that exist in the built site."""
    hrefs = page.eval_on_selector_all(".dropdown-download-buttons a[href]", "els => els.map(a => a.href)")
    local = origin(page.url)
    problems = [] if any("/_sources/" in href for href in hrefs) else ["no download link to the page's source"]
    for href in hrefs:
        if origin(href) != local:
            problems.append(f"download link to another host: {href}")
        elif not _site_file(href, site_root).is_file():
            problems.append(f"download link to a missing file: {href}")
    return problems


class _Ids(html.parser.HTMLParser):
    """Collects the ``id`` (and ``<a name>``) values of an HTML file."""

    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if value and (name == "id" or (tag == "a" and name == "name")):
                self.ids.add(value)


@functools.lru_cache(maxsize=256)
def html_ids(path: Path) -> frozenset[str]:
    """Every id of an HTML file (cached)."""
    parser = _Ids()
    parser.feed(path.read_text(encoding="utf-8", errors="replace"))
    return frozenset(parser.ids)


def internal_link_problems(page: Page, site_root: Path) -> list[str]:
    """Every link to the same site names an existing file, and its ``#anchor`` an id in that file."""
    hrefs = page.eval_on_selector_all("a[href]", "els => els.map(a => a.href)")
    local = origin(page.url)
    problems = []
    for href in sorted(set(hrefs)):
        if origin(href) != local:
            continue
        target = _site_file(href, site_root)
        if not target.is_file():
            problems.append(f"link to a missing page: {href}")
            continue
        anchor = unquote(urlsplit(href).fragment)
        if anchor and target.suffix == ".html" and anchor not in html_ids(target):
            problems.append(f"link to a missing anchor #{anchor} of {target.relative_to(site_root)}: {href}")
    return problems


_OVERFLOW_JS = """(width) => {
  const out = {scroll_width: document.documentElement.scrollWidth, width, items: []};
  const inside = r => r.left >= -1 && r.right <= width + 1;
  const article = document.querySelector("article.bd-article") || document.querySelector("main") || document.body;
  for (const el of article.querySelectorAll("img, table, svg, mjx-container[display='true']")) {
    const box = el.getBoundingClientRect();
    if (box.width === 0 || inside(box)) continue;
    // allowed: inside a box of the article that scrolls sideways by design (overflow-x auto or
    // scroll) and fits; the theme's article container scrolls too, but a whole column that
    // scrolls sideways is what this check is against, so the search stops at the article
    let scroller = null;
    for (let up = el.parentElement; up && up !== article && up !== document.body; up = up.parentElement) {
      const overflow = getComputedStyle(up).overflowX;
      if (overflow === "auto" || overflow === "scroll") { scroller = up; break; }
    }
    if (scroller && inside(scroller.getBoundingClientRect())) continue;
    const name = el.tagName.toLowerCase() + (el.className && typeof el.className === "string" ? "." + el.className.trim().split(/\\s+/).join(".") : "");
    out.items.push(`${name} spans ${Math.round(box.left)}..${Math.round(box.right)} px`);
  }
  return out;
}"""


def overflow_problems(page: Page) -> list[str]:
    """Nothing makes the page wider than the window, and every image, table and display equation
    of the main article lies within the window or inside a box of the article that scrolls
    sideways by design (``overflow-x: auto``, as the checks tables' ``.rob-checks-wrap``) and
    itself fits.

    The window's width is the viewport's that the page was opened with: on a phone (``is_mobile``)
    ``window.innerWidth`` grows with content that is too wide, as a phone zooms out to show it.
    """
    found = page.evaluate(_OVERFLOW_JS, page.viewport_size["width"])
    problems = []
    if found["scroll_width"] > found["width"] + 1:
        problems.append(f"page scrolls sideways: {found['scroll_width']} px wide in a {found['width']} px window")
    problems += [f"sticks out of the {found['width']} px window: {item}" for item in found["items"]]
    return problems


def column_fit_problems(page: Page, selector: str) -> list[str]:
    """Every element matching ``selector`` fits the box it sits in (its parent's content width),
    so it needs no sideways scrolling, e.g. a chapter's checks table at a desktop width."""
    found = page.evaluate("""(selector) => Array.from(document.querySelectorAll(selector), el =>
        [el.getBoundingClientRect().width, el.parentElement.clientWidth])
      .filter(([width, room]) => width > room + 1)
      .map(([width, room]) => `${Math.round(width)} px in ${Math.round(room)} px`)""", selector)
    return [f"{selector} does not fit its column: {item}" for item in found]


def search_word(page: Page) -> str | None:
    """A word a reader might search for: the longest plain word of the page's first theorem box."""
    text = page.evaluate("""() => {
      const box = document.querySelector("article .theorem");
      if (!box) return "";
      const clone = box.cloneNode(true);
      clone.querySelectorAll(".math, mjx-container, code, pre").forEach(el => el.remove());
      return clone.textContent;
    }""")
    words = [w for w in re.findall(r"[^\W\d_]{6,}", text)]
    return max(words, key=len) if words else None


def search_results(page: Page) -> list[str]:
    """The result links (without ``?highlight=`` or anchor) of an open ``search.html?q=WORD`` page,
    once the book's own search has finished."""
    page.wait_for_function("""() => {
      const summary = document.querySelector("#search-results .search-summary");
      return summary && /finished|did not match/i.test(summary.textContent);
    }""", timeout=60_000)
    hrefs = page.eval_on_selector_all("#search-results ul.search li a[href]", "els => els.map(a => a.href)")
    return [href.split("?")[0].split("#")[0] for href in hrefs]
