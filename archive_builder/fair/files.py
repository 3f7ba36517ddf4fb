"""Writing the descriptors: per donation, for the archive, and for each release."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from ..catalog import INSTANCES, SERIES, TABLES, Table, write_catalogs, write_table
from ..catalog.writer import FILES as LISTING
from ..catalog.writer import PARTITION, instance_rows, metadata, series_rows
from ..config import ArchiveConfig
from ..licenses import license_text
from ..release.model import ReleaseInfo, Withdrawal
from ..sitefiles import SiteWriter
from ..store.content import StoredDonation
from .citation import Citable, archive_citable, cff_data, render_bibtex, render_cff, render_ris
from .croissant import ParquetFile, croissant
from .datacite import (
    archive_datacite,
    concept_doi,
    datacite_xml,
    donation_datacite,
    donation_doi,
    release_datacite,
    release_doi,
)
from .dcat import dcat_graph, dcat_jsonld, dcat_turtle
from .landing import donation_versions
from .rocrate import ro_crate

DONATION_FILES = (
    ("datacite.json", "application/json", "DataCite Metadata Schema 4.5 record (JSON)"),
    ("datacite.xml", "application/xml", "DataCite Metadata Schema 4.5 record (XML)"),
    ("croissant.json", "application/ld+json", "Croissant 1.1 metadata for ML tooling"),
    ("CITATION.cff", "application/x-yaml", "Citation File Format 1.2.0"),
    ("citation.bib", "application/x-bibtex", "BibTeX citation"),
    ("citation.ris", "application/x-research-info-systems", "RIS citation"),
    ("LICENSE", "text/plain", "Licence: SPDX identifier, summary and legal code URL"),
    ("series.parquet", "application/vnd.apache.parquet", "This donation's series"),
    ("instances.parquet", "application/vnd.apache.parquet", "This donation's DICOM files"),
)


def _json(data: Any) -> str:
    return json.dumps(data, indent=1, ensure_ascii=False) + "\n"


def _sha256(site: SiteWriter, relpath: str) -> str:
    digest = hashlib.sha256()
    with (site.root / relpath).open("rb") as handle:
        while chunk := handle.read(1024 * 1024):
            digest.update(chunk)
    return digest.hexdigest()


def _write_citations(site: SiteWriter, folder: str, c: Citable, ris: bool = True) -> None:
    site.text(f"{folder}CITATION.cff", render_cff(cff_data(c)))
    site.text(f"{folder}citation.bib", render_bibtex(c))
    if ris:
        site.text(f"{folder}citation.ris", render_ris(c))


def _parquet(
    site: SiteWriter, config: ArchiveConfig, relpath: str, url: str, table: Table, rows: Any
) -> ParquetFile:
    write_table(site, relpath, table, rows, metadata(config, table, None))
    return ParquetFile(table, url, _sha256(site, relpath))


def write_donation_files(
    config: ArchiveConfig,
    donation: StoredDonation,
    site: SiteWriter,
    version: str | None = None,
    date: str | None = None,
) -> None:
    """Everything in ``datasets/<public-id>/`` except the page: descriptors and citations.

    ``version``: the latest release that added or revised the donation; ``date``:
    the day it was first released (both None before its first release).
    """
    pid = donation.public_id
    folder = f"datasets/{pid}/"
    record = donation.record
    year = record["consent"]["month"][:4]
    attrs = donation_datacite(config, donation, year, version)
    site.text(folder + "datacite.json", _json(attrs))
    site.bytes(folder + "datacite.xml", datacite_xml(attrs))
    site.text(folder + "LICENSE", license_text(record["license"], f"Donation {pid}"))
    title = attrs["titles"][0]["title"]
    description = attrs["descriptions"][0]["description"]
    url = attrs["url"]
    citable = Citable(
        key=f"{pid}{year}",
        title=title,
        abstract=description,
        publisher=config.publisher,
        contact=config.contact,
        url=url,
        license=record["license"],
        year=year,
        doi=donation_doi(config, donation),
        version=version,
        date=date,
        repository=f"{config.base_url}store/",
        keywords=("medical imaging", "DICOM", *donation.modalities),
    )
    _write_citations(site, folder, citable)
    files = [
        _parquet(
            site, config, folder + "series.parquet", "series.parquet", SERIES, series_rows(donation)
        ),
        _parquet(
            site,
            config,
            folder + "instances.parquet",
            "instances.parquet",
            INSTANCES,
            instance_rows(donation),
        ),
    ]
    keywords = [
        "medical imaging",
        "DICOM",
        *donation.modalities,
        record["study"]["anatomical_region"],
    ]
    site.text(
        folder + "croissant.json",
        _json(
            croissant(
                config,
                name=title,
                description=description,
                url=url,
                license=record["license"],
                files=files,
                cite_as=render_bibtex(citable),
                version=_semver(version),
                date_published=date or record["consent"]["month"] + "-01",
                keywords=keywords,
            )
        ),
    )
    site.text(
        folder + "ro-crate-metadata.json",
        _json(
            ro_crate(
                config,
                name=title,
                description=description,
                url=url,
                license=record["license"],
                date_published=date or record["consent"]["month"] + "-01",
                keywords=keywords,
                files=DONATION_FILES,
            )
        ),
    )


def _catalog_listing(site: SiteWriter, folder: str) -> dict[str, list[str]]:
    """Each table's files as the build wrote them (``catalog/files.json``); {} if absent."""
    try:
        listing = json.loads((site.root / f"{folder}catalog/{LISTING}").read_text("utf-8"))
        return dict(listing["tables"])
    except (OSError, ValueError, KeyError, TypeError):
        return {}


def _partitioned(site: SiteWriter, folder: str) -> bool:
    return any("/" in part for parts in _catalog_listing(site, folder).values() for part in parts)


def _catalog_files(site: SiteWriter, folder: str) -> list[ParquetFile]:
    """The catalogs as the build wrote them: one file per table, or (hive-partitioned,
    as ``catalog/files.json`` says) a set of files per table."""
    tables = _catalog_listing(site, folder)
    files = []
    for t in TABLES:
        parts = tables.get(t.name) or []
        if any("/" in part for part in parts):
            includes = f"catalog/{t.name}/{PARTITION}=*/*.parquet"
            files.append(ParquetFile(t, f"catalog/{t.name}/", None, includes))
        elif (site.root / f"{folder}catalog/{t.filename}").is_file():
            digest = _sha256(site, f"{folder}catalog/{t.filename}")
            files.append(ParquetFile(t, f"catalog/{t.filename}", digest))
    return files


def _catalog_croissant(
    config: ArchiveConfig, site: SiteWriter, folder: str, citable: Citable, date: str | None
) -> dict[str, Any]:
    files = _catalog_files(site, folder)
    return croissant(
        config,
        name=citable.title,
        description=citable.abstract,
        url=citable.url,
        license=config.license,
        files=files,
        cite_as=render_bibtex(citable),
        version=_semver(citable.version),
        date_published=date,
        keywords=citable.keywords,
    )


def _semver(version: str | None) -> str:
    if not version:
        return "0.0.0"
    parts = [*version.split("."), "0", "0"][:3]
    return ".".join(parts) if all(p.isdigit() for p in parts) else version


def write_archive_files(
    config: ArchiveConfig,
    donations: Sequence[StoredDonation],
    site: SiteWriter,
    releases: Sequence[ReleaseInfo] = (),
) -> None:
    """The archive's descriptors at the site's root, and every donation's own.

    Call after the catalogs are written: ``croissant.json`` carries their SHA-256.
    """
    text = license_text(config.license, f"Unless a donation says otherwise, {config.name}")
    others = sorted({d.record["license"] for d in donations} - {config.license})
    if others:
        text += (
            "\nSome donations carry another licence ("
            + ", ".join(others)
            + "): each donation's own LICENSE file, and the `license` column of "
            "catalog/donations.parquet, say which.\n"
        )
    site.text("LICENSE", text)
    latest = releases[-1] if releases else None
    year = latest.date[:4] if latest else str(datetime.now(UTC).year)
    citable = archive_citable(
        config,
        year=year,
        version=latest.version if latest else None,
        doi=concept_doi(config),
        date=latest.date if latest else None,
    )
    _write_citations(site, "", citable, ris=False)
    attrs = archive_datacite(config, releases, year)
    site.text("datacite.json", _json(attrs))
    site.bytes("datacite.xml", datacite_xml(attrs))
    graph = dcat_graph(config, donations, partitioned=_partitioned(site, ""))
    site.text("dcat.ttl", dcat_turtle(graph))
    site.text("dcat.jsonld", dcat_jsonld(graph))
    site.text("croissant.json", _json(_catalog_croissant(config, site, "", citable, None)))
    versions = donation_versions(releases)
    for donation in donations:
        date, version = versions.get(donation.public_id, (None, None))
        write_donation_files(config, donation, site, version, date)


def write_release_files(
    config: ArchiveConfig,
    donations: Sequence[StoredDonation],
    release: ReleaseInfo,
    previous: ReleaseInfo | None,
    site: SiteWriter,
    *,
    releases: Sequence[ReleaseInfo] = (),
    withdrawals: Sequence[Withdrawal] = (),
    offers: Sequence[dict[str, Any]] | None = None,
    folder: str | None = None,
) -> list[str]:
    """``releases/<version>/``: the release's catalogs and descriptors; return what was written.

    ``donations`` are those the release publishes (withdrawn ones excluded);
    ``releases`` is every release up to and including this one (for the
    ``release_added`` column). ``folder`` (ending in ``/``) places the files
    elsewhere under ``site``, e.g. ``"1.0/"`` in a SiteWriter on ``DIR/releases``;
    the descriptors' URLs still say ``<base_url>releases/<version>/``.
    """
    folder = f"releases/{release.version}/" if folder is None else folder
    before = set(site.written)
    write_catalogs(
        config,
        donations,
        site,
        folder=folder + "catalog",
        release=release.version,
        releases=releases or [*([previous] if previous else []), release],
        withdrawals=withdrawals,
        offers=offers,
    )
    write_release_descriptors(config, donations, release, previous, site, folder=folder)
    return sorted(set(site.written) - before)


def write_release_descriptors(
    config: ArchiveConfig,
    donations: Sequence[StoredDonation],
    release: ReleaseInfo,
    previous: ReleaseInfo | None,
    site: SiteWriter,
    folder: str | None = None,
) -> None:
    """The release's descriptors over catalogs already in ``<folder>catalog/``.

    Call this alone after a withdrawal removed rows from a frozen catalog: the
    Croissant checksums, the DCAT datasets and the DataCite sizes follow.
    """
    folder = f"releases/{release.version}/" if folder is None else folder
    url = f"{config.base_url}releases/{release.version}/"
    citable = archive_citable(
        config,
        year=release.date[:4],
        version=release.version,
        doi=release_doi(config, release),
        date=release.date,
        url=url,
        notes=release.notes,
    )
    _write_citations(site, folder, citable, ris=False)
    attrs = release_datacite(config, release, previous, donations)
    site.text(folder + "datacite.json", _json(attrs))
    site.bytes(folder + "datacite.xml", datacite_xml(attrs))
    graph = dcat_graph(config, donations, release, _partitioned(site, folder))
    site.text(folder + "dcat.ttl", dcat_turtle(graph))
    site.text(folder + "dcat.jsonld", dcat_jsonld(graph))
    site.text(
        folder + "croissant.json",
        _json(_catalog_croissant(config, site, folder, citable, release.date)),
    )
