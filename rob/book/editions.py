"""The book's two editions and the banner that links them on every page.

The ``ci`` edition executes every chapter at the small ``ci`` sizes (published on every push to
``main`` by ``.github/workflows/book.yml``); the ``paper`` edition at the papers' sizes (published
weekly, and on demand, by ``.github/workflows/paper.yml``, under ``/paper/`` of the same site).
Every page of an edition shows a one-line banner naming its edition; when the address of the
other edition is known (``rob build --edition-url-ci URL --edition-url-paper URL``, or
``$ROB_EDITION_URL_CI`` / ``$ROB_EDITION_URL_PAPER``) the banner links to it.  A local build or a
test build configures no address, so its pages link to no other host and to no missing page.

The banner is sphinx-book-theme's (pydata-sphinx-theme's) announcement, set by ``rob build`` as
``html.announcement`` in the staged ``_config.yml`` (:func:`set_banner`).
"""

from __future__ import annotations

import html
import os
from pathlib import Path
from urllib.parse import urlsplit

import yaml

#: What each edition is, as the banner says it.
DESCRIPTIONS: dict[str, str] = {
    "ci": "small sizes, so that it rebuilds in minutes",
    "paper": "the papers' sizes",
}

#: The environment variable that gives each edition's address (a ``rob build`` option overrides it).
ENV: dict[str, str] = {"ci": "ROB_EDITION_URL_CI", "paper": "ROB_EDITION_URL_PAPER"}


class EditionError(ValueError):
    """A malformed edition address (reported on one line, exit 2)."""


def check_url(url: str, edition: str) -> str:
    """``url`` if it is an absolute ``http(s)://host/...`` address, else :class:`EditionError`.

    Only absolute addresses: a relative one would resolve differently on pages at different depths.
    """
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc or any(c.isspace() for c in url):
        source = f"--edition-url-{edition} / ${ENV[edition]}"
        raise EditionError(f"{source} must be an absolute http(s) address such as "
                           f"https://example.org/book/, got {url!r}")
    return url


def edition_urls(ci: str | None = None, paper: str | None = None,
                 environ: dict[str, str] | None = None) -> dict[str, str]:
    """The configured address of each edition: the given value, else its environment variable;
    editions with neither (or an empty value) are left out.  Raises :class:`EditionError`."""
    environ = os.environ if environ is None else environ
    given = {"ci": ci, "paper": paper}
    urls = {}
    for edition, variable in ENV.items():
        value = given[edition] if given[edition] is not None else environ.get(variable, "")
        if value.strip():
            urls[edition] = check_url(value, edition)
    return urls


def banner_html(scale: str, urls: dict[str, str]) -> str:
    """The banner of the ``scale`` edition: its name and size, and a link to the other edition if
    ``urls`` has its address, e.g. ``This is the ci edition (...). Paper edition (...): <a>...</a>.``

    Never starts with ``http`` (pydata-sphinx-theme would fetch such an announcement at run time).
    """
    description = DESCRIPTIONS.get(scale, f"scale {scale}")
    text = (f'This is the <strong>{html.escape(scale)} edition</strong> of the book '
            f'({html.escape(description)}).')
    for other in DESCRIPTIONS:
        if other == scale or other not in urls:
            continue
        url = html.escape(urls[other], quote=True)
        text += (f' <a class="rob-edition-link" href="{url}">The {other} edition</a> '
                 f'({html.escape(DESCRIPTIONS[other])}).')
    return f'<span class="rob-edition rob-edition-{html.escape(scale)}">{text}</span>'


def set_banner(config_path: Path, scale: str, urls: dict[str, str]) -> str:
    """Write the banner of the ``scale`` edition into ``config_path`` (a staged ``_config.yml``,
    as ``html.announcement``); returns the banner."""
    banner = banner_html(scale, urls)
    data = yaml.safe_load(config_path.read_text())
    data.setdefault("html", {})["announcement"] = banner
    config_path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))
    return banner
