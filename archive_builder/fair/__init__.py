"""FAIR: licence and citation files (and, as the stage grows, metadata descriptors)."""

from __future__ import annotations

from collections.abc import Sequence

from ..config import ArchiveConfig
from ..sitefiles import SiteWriter
from ..store.content import StoredDonation
from .citation import archive_citation, render_cff
from .licenses import LICENSES, License, license_text
from .schemaorg import dataset_jsonld
from .text import to_html, to_plain


def write_archive_files(
    config: ArchiveConfig, donations: Sequence[StoredDonation], site: SiteWriter
) -> None:
    """LICENSE and CITATION.cff at the site's root."""
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
    site.text("CITATION.cff", render_cff(archive_citation(config)))
    for donation in donations:
        site.text(
            f"datasets/{donation.public_id}/LICENSE",
            license_text(donation.record["license"], f"Donation {donation.public_id}"),
        )


__all__ = [
    "LICENSES",
    "License",
    "archive_citation",
    "dataset_jsonld",
    "license_text",
    "render_cff",
    "to_html",
    "to_plain",
    "write_archive_files",
]
