"""What each landing page tells machines, in one place.

Every page with an identifier (the home page for the archive, each donation,
each release, each withdrawn donation's tombstone) has a :class:`LandingPage`:
its persistent identifier (``cite-as``), its metadata documents with their media
types and profiles (``describedby``), the files it consists of (``item``, each
with its exact size and SHA-256 for the JSON-LD), its licence, author and type.
From it come the page's ``<link>`` elements, its FAIR Signposting linkset
(``linkset.json``, RFC 9264) and its HTTP ``Link`` header (in ``_headers``),
and the ``distribution`` of its schema.org JSON-LD.

The DICOM files of a donation are items too, at their plain HTTPS URL in the
store; they are listed in the linkset and the JSON-LD, not in the page's head or
header (a study may hold thousands).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..catalog import TABLES
from ..config import ArchiveConfig
from ..licenses import LICENSES
from ..mediatypes import media_type
from ..release.model import ReleaseInfo, Withdrawal
from ..store.content import StoredDonation
from ..store.objects import object_path
from .datacite import concept_doi, donation_doi, release_doi

SCHEMA = "https://schema.org/"
LINKSET = "linkset.json"
LINKSET_TYPE = "application/linkset+json"
DICOM = "application/dicom"
DATACITE = "http://datacite.org/schema/kernel-4"
DCAT_AP = "http://data.europa.eu/r5r/"
CROISSANT = "http://mlcommons.org/croissant/1.1"
RO_CRATE = "https://w3id.org/ro/crate/1.2"
CFF = "https://citation-file-format.github.io/1.2.0/schema.json"
# (file, profile): the metadata documents a landing page's folder may hold, in link order
METADATA = (
    ("datacite.xml", DATACITE),
    ("datacite.json", DATACITE),
    ("dcat.ttl", DCAT_AP),
    ("dcat.jsonld", DCAT_AP),
    ("croissant.json", CROISSANT),
    ("ro-crate-metadata.json", RO_CRATE),
    ("CITATION.cff", CFF),
    ("citation.bib", None),
    ("citation.ris", None),
)
# the files of a folder that a landing page links (its metadata, and a donation's own catalogs)
SIGNPOSTED = frozenset(name for name, _ in METADATA) | {"series.parquet", "instances.parquet"}


def doi_url(doi: str | None) -> str | None:
    return f"https://doi.org/{doi}" if doi else None


@dataclass(frozen=True)
class Link:
    rel: str
    href: str
    type: str | None = None
    profile: str | None = None


@dataclass(frozen=True)
class Metadata:
    path: str  # site-relative
    profile: str | None = None

    @property
    def media_type(self) -> str:
        return media_type(self.path)


@dataclass(frozen=True)
class Item:
    """A file a web client can fetch: where it is on the site, and (when known) its size."""

    path: str  # site-relative
    name: str
    description: str = ""
    size: int | None = None  # None: measured from the file on the site
    sha256: str | None = None

    @property
    def media_type(self) -> str:
        return media_type(self.path)


@dataclass(frozen=True)
class LandingPage:
    folder: str  # site-relative, "" for the home page, else ending in "/"
    kind: str  # archive | donation | release | withdrawn
    cite_as: str
    types: tuple[str, ...]
    metadata: tuple[Metadata, ...] = ()
    items: tuple[Item, ...] = ()
    license: str | None = None
    author: str | None = None
    collection: str | None = None

    def key(self) -> tuple[Any, ...]:
        """Everything the page's links and downloads depend on, as plain values (a cache key)."""
        return (
            self.folder,
            self.kind,
            self.cite_as,
            self.types,
            [(m.path, m.profile) for m in self.metadata],
            [(i.path, i.name, i.description, i.size, i.sha256) for i in self.items],
            self.license,
            self.author,
            self.collection,
        )

    def links(self, base_url: str, *, every_item: bool = True) -> list[Link]:
        """Every typed link, with absolute URLs; without DICOM items unless ``every_item``."""
        out = [Link("cite-as", self.cite_as)]
        out += [Link("type", t) for t in self.types]
        out += [
            Link("describedby", base_url + m.path, m.media_type, m.profile) for m in self.metadata
        ]
        out += [
            Link("item", base_url + i.path, i.media_type)
            for i in self.items
            if every_item or i.media_type != DICOM
        ]
        for rel, href in (
            ("license", self.license),
            ("author", self.author),
            ("collection", self.collection),
        ):
            if href:
                out.append(Link(rel, href))
        out.append(Link("linkset", base_url + self.folder + LINKSET, LINKSET_TYPE))
        return out

    def head_links(self, base_url: str) -> list[Link]:
        """The links of the page's ``<head>`` and HTTP header: site files relative to the page."""
        return [
            _relative(link, base_url, self.folder)
            for link in self.links(base_url, every_item=False)
        ]

    def linkset(self, base_url: str) -> dict[str, Any]:
        """The RFC 9264 JSON linkset: the page's links; each metadata document ``describes`` it."""
        page = base_url + self.folder
        context: dict[str, Any] = {"anchor": page}
        for link in self.links(base_url):
            if link.rel == "linkset":
                continue
            target: dict[str, Any] = {"href": link.href}
            if link.type:
                target["type"] = link.type
            if link.profile:
                target["profile"] = [link.profile]  # an extension target attribute: an array
            context.setdefault(link.rel, []).append(target)
        described = [
            {"anchor": base_url + m.path, "describes": [{"href": page, "type": "text/html"}]}
            for m in self.metadata
        ]
        return {"linkset": [context, *described]}


def _relative(link: Link, base_url: str, folder: str) -> Link:
    if link.rel not in ("describedby", "item", "linkset") or not link.href.startswith(base_url):
        return link
    path = link.href[len(base_url) :]
    href = path[len(folder) :] if path.startswith(folder) else "../" * folder.count("/") + path
    return Link(link.rel, href, link.type, link.profile)


def link_header(links: Iterable[Link]) -> str:
    """An HTTP ``Link`` field value (RFC 8288)."""
    parts = []
    for link in links:
        text = f'<{link.href}>; rel="{link.rel}"'
        if link.type:
            text += f'; type="{link.type}"'
        if link.profile:
            text += f'; profile="{link.profile}"'
        parts.append(text)
    return ", ".join(parts)


def _metadata(folder: str, present: Collection[str]) -> tuple[Metadata, ...]:
    return tuple(Metadata(folder + name, profile) for name, profile in METADATA if name in present)


def _catalogs(folder: str, present: Collection[str]) -> tuple[Item, ...]:
    return tuple(
        Item(f"{folder}catalog/{t.filename}", t.filename, t.description)
        for t in TABLES
        if f"catalog/{t.filename}" in present
    )


def _author(config: ArchiveConfig) -> str:
    return config.base_url + "#publisher"


def archive_page(config: ArchiveConfig, present: Collection[str]) -> LandingPage:
    """The home page: the archive. ``present``: the site's top-level files (``catalog/x`` too)."""
    return LandingPage(
        "",
        "archive",
        doi_url(concept_doi(config)) or config.base_url,
        (SCHEMA + "Dataset", SCHEMA + "AboutPage"),
        _metadata("", present),
        _catalogs("", present),
        LICENSES[config.license].url,
        _author(config),
    )


def donation_page(
    config: ArchiveConfig, donation: StoredDonation, present: Collection[str]
) -> LandingPage:
    """A donation; ``present``: the files in its folder on the site."""
    folder = f"datasets/{donation.public_id}/"
    items = [
        Item(folder + name, name, text)
        for name, text in (
            ("series.parquet", "This donation's series"),
            ("instances.parquet", "This donation's DICOM files: size, SHA-256, git-annex key"),
        )
        if name in present
    ]
    if donation.dataset_id:
        items += [
            Item(
                object_path(donation.dataset_id, i["annex_key"]),
                i["path"],
                "DICOM file",
                i["size"],
                i["sha256"],
            )
            for i in donation.instances
            if i.get("annex_key")
        ]
    return LandingPage(
        folder,
        "donation",
        doi_url(donation_doi(config, donation)) or config.base_url + folder,
        (SCHEMA + "Dataset", SCHEMA + "AboutPage"),
        _metadata(folder, present),
        tuple(items),
        LICENSES[donation.record["license"]].url,
        _author(config),
        config.base_url,
    )


def release_page(
    config: ArchiveConfig, release: ReleaseInfo, present: Collection[str]
) -> LandingPage:
    """A release; ``present``: the files of ``releases/VERSION/`` (``catalog/x`` too)."""
    folder = f"releases/{release.version}/"
    return LandingPage(
        folder,
        "release",
        doi_url(release_doi(config, release)) or config.base_url + folder,
        (SCHEMA + "Dataset", SCHEMA + "AboutPage"),
        _metadata(folder, present),
        _catalogs(folder, present),
        LICENSES[config.license].url,
        _author(config),
        config.base_url,
    )


def tombstone_page(config: ArchiveConfig, withdrawal: Withdrawal) -> LandingPage:
    """A withdrawn donation: its identifier still resolves, to a page that says so."""
    folder = f"datasets/{withdrawal.public_id}/"
    return LandingPage(
        folder,
        "withdrawn",
        doi_url(donation_doi(config, withdrawal.public_id)) or config.base_url + folder,
        (SCHEMA + "AboutPage",),
        collection=config.base_url,
    )


def files_in(root: Path, folder: str, catalog: bool = True) -> set[str]:
    """The names of the files in ``root/folder`` and (``catalog/x``) in ``root/folder/catalog``."""
    names: set[str] = set()
    subfolders = [(f"{root}/{folder}", "")]
    if catalog:
        subfolders.append((f"{root}/{folder}catalog", "catalog/"))
    for sub, prefix in subfolders:
        try:
            with os.scandir(sub) as entries:
                names.update(prefix + e.name for e in entries if e.is_file())
        except FileNotFoundError:
            continue
    return names


def measure(root: Path, item: Item) -> tuple[int, str]:
    """The exact size and SHA-256 of an item: as recorded, else from the site (its sidecar)."""
    if item.size is not None and item.sha256 is not None:
        return item.size, item.sha256
    path = root / item.path
    sidecar = path.with_name(path.name + ".sha256")
    if sidecar.is_file():
        digest = sidecar.read_text(encoding="ascii").split()[0]
    else:
        hasher = hashlib.sha256()
        with path.open("rb") as handle:
            while chunk := handle.read(1024 * 1024):
                hasher.update(chunk)
        digest = hasher.hexdigest()
    return path.stat().st_size, digest


def donation_versions(releases: Iterable[ReleaseInfo]) -> dict[str, tuple[str, str]]:
    """Public id -> (the day it was first released, the latest release that added or revised it)."""
    versions: dict[str, tuple[str, str]] = {}
    for release in sorted(releases, key=lambda r: (r.date, r.version)):
        for public_id in (*release.added, *release.revised):
            first = versions.get(public_id, (release.date, ""))[0]
            versions[public_id] = (first, release.version)
    return versions
