"""Each landing page's links as files: ``linkset.json`` beside the page, and ``_headers``.

``_headers`` is the format Netlify and Cloudflare Pages read (a path, then its
header lines indented); ``archive-builder serve`` reads it too. Its paths are
relative to the site's root, as those hosts read them when ``site/`` is what
they publish; the link targets are relative to the page or absolute, so they
hold under any base URL.

A rebuild rebuilds the links of a page only when the page's inputs changed:
each page's ``Link`` header is kept in the cache folder with the key of those
inputs (as :class:`~.pagecache.PageCache` keeps pages).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..fair.landing import LINKSET, LandingPage, link_header
from ..sitefiles import SiteWriter
from .pagecache import fingerprint, keep

HEADERS = "_headers"


class Signposts:
    """Collects every landing page's links during a build; writes linksets and ``_headers``."""

    def __init__(self, site: SiteWriter, base_url: str, folder: Path | None, salt: str):
        self.site = site
        self.base_url = base_url
        self.salt = salt
        self.file = folder / "signposts.json" if folder else None
        self.old: dict[str, list[str]] = {}
        if self.file is not None and self.file.is_file():
            try:
                self.old = json.loads(self.file.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                self.old = {}
        self.new: dict[str, list[str]] = {}

    def add(
        self, folder: str, inputs: Any, landing: LandingPage | Callable[[], LandingPage]
    ) -> None:
        """The page in ``folder``, whose links follow from ``inputs``; ``landing`` (or what
        it returns, made only when the inputs changed) holds them."""
        key = fingerprint(self.salt, self.base_url, inputs)
        old = self.old.get(folder)
        if old and old[0] == key and keep(self.site, folder + LINKSET):
            self.new[folder] = old
            return
        page = landing if isinstance(landing, LandingPage) else landing()
        self.site.text(folder + LINKSET, linkset_text(page, self.base_url))
        self.new[folder] = [key, link_header(page.head_links(self.base_url))]

    def finish(self) -> None:
        """Write ``_headers`` (one rule per page, in site order) and keep the keys."""
        rules = "".join(
            f"/{folder}\n  Link: {self.new[folder][1]}\n" for folder in sorted(self.new)
        )
        self.site.text(HEADERS, rules)
        if self.file is not None:
            self.file.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.file.with_suffix(".tmp")
            tmp.write_text(json.dumps(self.new), encoding="utf-8")
            tmp.replace(self.file)


def linkset_text(page: LandingPage, base_url: str) -> str:
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
