"""Writing the Parquet catalogs, one donation at a time (memory stays bounded)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from .. import __version__
from ..config import ArchiveConfig
from ..sitefiles import SiteWriter
from ..store.content import StoredDonation
from .tables import DONATIONS, INSTANCES, SCHEMA_VERSION, SERIES, Table


def _donation_row(d: StoredDonation) -> dict[str, Any]:
    record = d.record
    age = record["subject"]["age"]
    return {
        "public_id": d.public_id,
        "release_added": record.get("release_added"),
        "license": record["license"],
        "age": 90 if age == "90+" else int(age),
        "sex": record["subject"]["sex"],
        "anatomical_region": record["study"]["anatomical_region"],
        "diagnosis_codes": [f"{x['system']}:{x['code']}" for x in record["study"]["diagnoses"]],
        "modalities": d.modalities,
        "series_count": len(d.series),
        "instance_count": len(d.instances),
        "total_bytes": d.total_bytes,
        "withdrawn": False,
    }


def _series_rows(d: StoredDonation) -> Iterator[dict[str, Any]]:
    for s in d.series:
        yield {
            **{k: s.get(k) for k in (c.name for c in SERIES.columns)},
            "public_id": d.public_id,
            "NumberOfSeriesRelatedInstances": s["instances"],
            "total_bytes": s["bytes"],
        }


def _instance_rows(d: StoredDonation) -> Iterator[dict[str, Any]]:
    names = [c.name for c in INSTANCES.columns]
    for inst in d.instances:
        row = {k: inst.get(k) for k in names}
        row["public_id"] = d.public_id
        yield row


def _metadata(config: ArchiveConfig, table: Table, release: str | None) -> dict[bytes, bytes]:
    return {
        b"archive": config.name.encode(),
        b"release": (release or "unreleased").encode(),
        b"schema_version": SCHEMA_VERSION.encode(),
        b"table": table.name.encode(),
        b"description": table.description.encode(),
        b"created_by": f"archive-builder {__version__}".encode(),
    }


def write_table(
    site: SiteWriter,
    relpath: str,
    table: Table,
    batches: Iterable[list[dict[str, Any]]],
    metadata: dict[bytes, bytes],
) -> str:
    """Stream row batches into one zstd Parquet file, with a ``.sha256`` sidecar."""
    schema = table.schema.with_metadata(metadata)
    with site.open(relpath) as path:
        with pq.ParquetWriter(path, schema, compression="zstd") as writer:
            wrote = False
            for rows in batches:
                if rows:
                    writer.write_table(pa.Table.from_pylist(rows, schema=schema))
                    wrote = True
            if not wrote:
                writer.write_table(schema.empty_table())
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
    name = relpath.rsplit("/", 1)[-1]
    site.text(relpath + ".sha256", f"{digest}  {name}\n")
    return relpath


def write_catalogs(
    config: ArchiveConfig,
    donations: Iterable[StoredDonation],
    site: SiteWriter,
    folder: str = "catalog",
    release: str | None = None,
) -> list[str]:
    donations = list(donations)
    jobs = (
        (DONATIONS, ([_donation_row(d)] for d in donations)),
        (SERIES, (list(_series_rows(d)) for d in donations)),
        (INSTANCES, (list(_instance_rows(d)) for d in donations)),
    )
    return [
        write_table(
            site, f"{folder}/{table.filename}", table, batches, _metadata(config, table, release)
        )
        for table, batches in jobs
    ]
