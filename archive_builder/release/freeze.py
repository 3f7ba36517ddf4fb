"""Frozen release files under ``DIR/releases/<version>/``, copied into the site by every build.

A release's catalog and change list are written once, when the release is
made, and never regenerated. The one exception is a withdrawal: the
withdrawn donation's rows are removed from every frozen catalog (its public
id stays in ``withdrawn.json``), because a donor's withdrawal reaches every
copy the archive serves.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pyarrow.compute as pc
import pyarrow.parquet as pq

from ..config import ArchiveConfig
from ..fair import write_release_descriptors
from ..sitefiles import SiteWriter
from ..store.content import StoredDonation
from .model import ReleaseInfo

# The per-day offers table that releases froze before the donation rate replaced it.
LEGACY_OFFERS = ("catalog/offers.parquet", "catalog/offers.parquet.sha256")


def changes(info: ReleaseInfo, previous: str | None) -> dict[str, object]:
    return {
        "version": info.version,
        "date": info.date,
        "previous": previous,
        "doi": info.doi,
        "added": list(info.added),
        "revised": list(info.revised),
        "withdrawn": list(info.withdrawn),
    }


def _replace(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    tmp.replace(path)


def scrub(release_dir: Path, public_id: str, day: str, *, contained: bool = False) -> bool:
    """Remove a withdrawn donation's rows from one frozen release; say whether any were there.

    Idempotent, and it repairs what an interrupted run left: every catalog's
    ``.sha256`` is made to match, and ``withdrawn.json`` lists the donation
    whenever the release held it (``contained``) or held rows of it.
    """
    touched = False
    for table_path in sorted(release_dir.rglob("*.parquet")):
        table = pq.read_table(table_path)
        if "public_id" in table.column_names:
            keep = pc.fill_null(pc.not_equal(table.column("public_id"), public_id), True)
            filtered = table.filter(keep)
            if filtered.num_rows != table.num_rows:
                tmp = table_path.with_suffix(".parquet.tmp")
                pq.write_table(filtered, tmp, compression="zstd")
                tmp.replace(table_path)
                touched = True
        sidecar = table_path.with_name(table_path.name + ".sha256")
        line = f"{hashlib.sha256(table_path.read_bytes()).hexdigest()}  {table_path.name}\n"
        if not sidecar.is_file() or sidecar.read_text(encoding="ascii", errors="replace") != line:
            _replace(sidecar, line.encode("ascii"))
    withdrawn_file = release_dir / "withdrawn.json"
    listed = json.loads(withdrawn_file.read_text()) if withdrawn_file.is_file() else []
    if (touched or contained) and not any(item["public_id"] == public_id for item in listed):
        listed.append({"public_id": public_id, "withdrawn": day})
        _replace(withdrawn_file, (json.dumps(listed, indent=1) + "\n").encode("utf-8"))
    return touched


def retire_offers(
    config: ArchiveConfig,
    releases_dir: Path,
    history: list[tuple[ReleaseInfo, dict[str, str]]],
    donations: list[StoredDonation],
) -> list[str]:
    """Remove the per-day offers table from every frozen release; return the versions touched.

    Its suppressed rows, beside the donation rate the site now publishes, could be
    worked out by subtraction; like a withdrawal, this reaches every frozen copy,
    and the release's descriptors are written again without the table.
    """
    touched = []
    for index, (info, recorded) in enumerate(history):
        folder = releases_dir / info.version
        present = [folder / name for name in LEGACY_OFFERS if (folder / name).is_file()]
        if not present:
            continue
        for path in present:
            path.unlink()
        previous = history[index - 1][0] if index else None
        kept = [d for d in donations if d.public_id in recorded]
        write_release_descriptors(
            config,
            kept,
            info,
            previous,
            SiteWriter(releases_dir, keep_prefixes=()),
            folder=f"{info.version}/",
        )
        touched.append(info.version)
    return touched
