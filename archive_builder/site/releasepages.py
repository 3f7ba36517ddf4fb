"""One landing page per release, ``releases/VERSION/index.html``: the page its DOI resolves to.

It shows the release's identifier, notes, changes and citation, and its frozen
catalogs with their exact sizes and SHA-256; its head, linkset and JSON-LD point
machines to the frozen catalogs and descriptors beside it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..config import ArchiveConfig
from ..fair.landing import LandingPage, files_in, measure, release_page
from ..fair.schemaorg import release_jsonld
from ..release.model import ReleaseInfo
from .facts import Row

if TYPE_CHECKING:
    from .render import _Renderer


def _jsonld(
    config: ArchiveConfig, lp: LandingPage, root: Path, rel: ReleaseInfo, months: list[str]
) -> dict[str, Any]:
    return {"jsonld": release_jsonld(config, lp, root, rel, months)}


def render_release_pages(
    r: _Renderer,
    ordered: Sequence[ReleaseInfo],
    rows: Sequence[Row],
    citations: Mapping[str, str],
    withdrawn: set[str],
) -> list[LandingPage]:
    """Render each release's page; return their landing pages."""
    config, root = r.config, r.site.root
    position = {rel.version: index for index, rel in enumerate(ordered)}
    landing = []
    for index, rel in enumerate(ordered):
        folder = f"releases/{rel.version}/"
        present = files_in(root, folder)
        lp = release_page(config, rel, present)
        files = []
        for item in lp.items:
            size, sha256 = measure(root, item)
            files.append(
                {
                    "name": item.name,
                    "href": item.path.removeprefix(folder),
                    "description": item.description,
                    "size": size,
                    "sha256": sha256,
                }
            )
        months = sorted(row.month for row in rows if position.get(row.release, index + 1) <= index)
        gone = sorted(withdrawn & {*rel.added, *rel.revised, *rel.withdrawn})
        r.page(
            folder + "index.html",
            "release.html",
            (rel, lp.key(), files, months, citations[rel.version], gone),
            partial(_jsonld, config, lp, root, rel, months),
            rel=rel,
            page=lp,
            doi=lp.cite_as.startswith("https://doi.org/"),
            files=files,
            present=present,
            citation=citations[rel.version],
            withdrawn=set(gone),
            signposts=lp.head_links(config.base_url),
        )
        landing.append(lp)
    return landing
