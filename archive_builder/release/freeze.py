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

from .model import ReleaseInfo


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


def scrub(release_dir: Path, public_id: str, day: str) -> bool:
    """Remove a withdrawn donation's rows and files from one frozen release."""
    touched = False
    for table_path in sorted(release_dir.rglob("*.parquet")):
        table = pq.read_table(table_path)
        if "public_id" not in table.column_names:
            continue
        keep = pc.not_equal(table.column("public_id"), public_id)
        filtered = table.filter(keep)
        if filtered.num_rows == table.num_rows:
            continue
        tmp = table_path.with_suffix(".parquet.tmp")
        pq.write_table(filtered, tmp, compression="zstd")
        tmp.replace(table_path)
        digest = hashlib.sha256(table_path.read_bytes()).hexdigest()
        table_path.with_name(table_path.name + ".sha256").write_text(
            f"{digest}  {table_path.name}\n", encoding="ascii"
        )
        touched = True
    withdrawn_file = release_dir / "withdrawn.json"
    listed = json.loads(withdrawn_file.read_text()) if withdrawn_file.is_file() else []
    if touched and not any(item["public_id"] == public_id for item in listed):
        listed.append({"public_id": public_id, "withdrawn": day})
        withdrawn_file.write_text(json.dumps(listed, indent=1) + "\n", encoding="utf-8")
    return touched
