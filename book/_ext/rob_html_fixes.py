"""A local Sphinx extension of the book: fixes to the HTML pages that a reader's browser reports.

Sphinx 7.4 writes every inline script that an extension registers after the builder started
(``app.add_js_file(None, body=...)``, as sphinx-thebe and sphinx-togglebutton do) twice into
each page: once from the builder and once from the registry, which it adds again with the
file name ``''`` instead of ``None``, so its own duplicate check misses it.  The second copy of
sphinx-thebe's ``const THEBE_JS_URL = ...`` is then a JavaScript ``SyntaxError`` ("Identifier
'THEBE_JS_URL' has already been declared") in the console of every page.  This extension
drops such duplicates just before each page is rendered.  The browser tests
(``tests/test_book_browser.py``) fail on any console error.
"""

from __future__ import annotations

from typing import Any

from sphinx.application import Sphinx


def _key(script: Any) -> tuple[str, tuple[tuple[str, str], ...]]:
    """What makes two script entries the same tag: file name (``None`` = ``''``) and attributes."""
    attributes = getattr(script, "attributes", {}) or {}
    return (getattr(script, "filename", script) or "",
            tuple(sorted((str(k), str(v)) for k, v in attributes.items())))


def drop_duplicate_scripts(app: Sphinx, pagename: str, templatename: str,
                           context: dict[str, Any], doctree: Any) -> None:
    """Keep the first of each group of identical ``<script>`` entries of a page."""
    scripts = context.get("script_files")
    if not isinstance(scripts, list):
        return
    seen: set[tuple[str, tuple[tuple[str, str], ...]]] = set()
    kept = []
    for script in scripts:
        key = _key(script)
        if key not in seen:
            seen.add(key)
            kept.append(script)
    context["script_files"] = kept


def setup(app: Sphinx) -> dict[str, Any]:
    # Run after every other html-page-context handler (some of them add per-page scripts).
    app.connect("html-page-context", drop_duplicate_scripts, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
