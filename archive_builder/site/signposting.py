"""Each landing page's links as files: ``linkset.json`` beside the page, and ``_headers``.

``_headers`` is the format Netlify and Cloudflare Pages read (a path, then its
header lines indented); ``archive-builder serve`` reads it too. Its paths are
relative to the site's root, as those hosts read them when ``site/`` is what
they publish; the link targets are relative to the page or absolute, so they
hold under any base URL.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from functools import partial
from pathlib import Path

from ..fair.landing import LINKSET, LandingPage, link_header
from ..sitefiles import SiteWriter
from .pagecache import PageCache

HEADERS = "_headers"


def write_signposting(
    pages: PageCache, site: SiteWriter, base_url: str, landing: Sequence[LandingPage]
) -> None:
    """Write every page's linkset and the ``_headers`` file with every page's ``Link`` header."""
    blocks = []
    for page in landing:
        pages.page(
            page.folder + LINKSET, ("linkset", base_url, page), partial(_linkset, page, base_url)
        )
        blocks.append(f"/{page.folder}\n  Link: {link_header(page.head_links(base_url))}\n")
    site.text(HEADERS, "".join(blocks))


def _linkset(page: LandingPage, base_url: str) -> str:
    return json.dumps(page.linkset(base_url), indent=1, ensure_ascii=False) + "\n"


def read_headers(site: Path) -> dict[str, list[tuple[str, str]]]:
    """``_headers`` as path -> [(field, value)]; empty if the site has none."""
    rules: dict[str, list[tuple[str, str]]] = {}
    try:
        text = (site / HEADERS).read_text(encoding="utf-8")
    except OSError:
        return rules
    current: list[tuple[str, str]] | None = None
    for line in text.splitlines():
        if line.startswith("/"):
            current = rules.setdefault(line.strip(), [])
        elif line.strip() and current is not None and ":" in line:
            name, _, value = line.strip().partition(":")
            current.append((name.strip(), value.strip()))
    return rules
