"""FAIR: licence and citation files (and, as the stage grows, metadata descriptors)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ..config import ArchiveConfig
from ..store.content import StoredDonation
from .citation import archive_citation, render_cff
from .licenses import LICENSES, License, license_text
from .text import to_html, to_plain


def write_archive_files(
    config: ArchiveConfig, donations: Sequence[StoredDonation], out_dir: Path
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
    (out_dir / "LICENSE").write_text(text, encoding="utf-8")
    (out_dir / "CITATION.cff").write_text(render_cff(archive_citation(config)), encoding="utf-8")


__all__ = [
    "LICENSES",
    "License",
    "archive_citation",
    "license_text",
    "render_cff",
    "to_html",
    "to_plain",
    "write_archive_files",
]
