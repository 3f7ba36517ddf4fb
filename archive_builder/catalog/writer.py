"""Writing the Parquet catalogs in one streaming pass: memory stays bounded by the batch size."""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Iterable, Iterator, Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from .. import __version__
from ..config import ArchiveConfig
from ..release.model import ReleaseInfo, Withdrawal
from ..sitefiles import SiteWriter
from ..store.content import StoredDonation
from .rates import METHOD, Donor, donor_of, rate_table
from .tables import DONATION_RATE, DONATIONS, INSTANCES, SCHEMA_VERSION, SERIES, Table

BATCH_ROWS = 10_000


def release_added(releases: Sequence[ReleaseInfo]) -> dict[str, str]:
    """Public id -> the version of the first release that included it."""
    first: dict[str, str] = {}
    for release in releases:
        for public_id in release.added:
            first.setdefault(public_id, release.version)
    return first


def donation_row(d: StoredDonation, added: str | None = None) -> dict[str, Any]:
    record = d.record
    age = record["subject"]["age"]
    return {
        "public_id": d.public_id,
        "release_added": added,
        "license": record["license"],
        "age": 90 if age == "90+" else min(int(age), 90),
        "sex": record["subject"]["sex"],
        "anatomical_region": record["study"]["anatomical_region"],
        "diagnosis_codes": [f"{x['system']}:{x['code']}" for x in record["study"]["diagnoses"]],
        "modalities": d.modalities,
        "series_count": len(d.series),
        "instance_count": len(d.instances),
        "total_bytes": d.total_bytes,
        "withdrawn": False,
    }


def withdrawn_row(w: Withdrawal, added: str | None = None) -> dict[str, Any]:
    """A withdrawn donation keeps only its opaque id, the release that added it, and the flag."""
    row: dict[str, Any] = {c.name: None for c in DONATIONS.columns}
    row.update(public_id=w.public_id, release_added=added, withdrawn=True)
    return row


def series_rows(d: StoredDonation) -> Iterator[dict[str, Any]]:
    names = [c.name for c in SERIES.columns]
    for s in d.series:
        row = {k: s.get(k) for k in names}
        row.update(
            public_id=d.public_id,
            NumberOfSeriesRelatedInstances=s["instances"],
            total_bytes=s["bytes"],
        )
        yield row


def instance_rows(d: StoredDonation) -> Iterator[dict[str, Any]]:
    names = [c.name for c in INSTANCES.columns]
    for inst in d.instances:
        row = {k: inst.get(k) for k in names}
        row["public_id"] = d.public_id
        yield row


def metadata(config: ArchiveConfig, table: Table, release: str | None) -> dict[bytes, bytes]:
    return {
        b"archive": config.name.encode(),
        b"release": (release or "unreleased").encode(),
        b"schema_version": SCHEMA_VERSION.encode(),
        b"table": table.name.encode(),
        b"description": table.description.encode(),
        b"created_by": f"archive-builder {__version__}".encode(),
    }


class TableStream:
    """Rows in, zstd Parquet out, one row group per ``batch_rows`` rows."""

    def __init__(self, path: Path, schema: pa.Schema, batch_rows: int = BATCH_ROWS):
        self.schema = schema
        self.batch_rows = batch_rows
        self.rows: list[dict[str, Any]] = []
        self.count = 0
        self.writer = pq.ParquetWriter(path, schema, compression="zstd")

    def add(self, row: dict[str, Any]) -> None:
        self.rows.append(row)
        if len(self.rows) >= self.batch_rows:
            self.flush()

    def extend(self, rows: Iterable[dict[str, Any]]) -> None:
        for row in rows:
            self.add(row)

    def flush(self) -> None:
        if self.rows:
            self.writer.write_table(pa.Table.from_pylist(self.rows, schema=self.schema))
            self.count += len(self.rows)
            self.rows = []

    def close(self) -> None:
        self.flush()
        if not self.count:
            self.writer.write_table(self.schema.empty_table())
        self.writer.close()


def _sidecar(site: SiteWriter, relpath: str, path: Path) -> None:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1024 * 1024):
            digest.update(chunk)
    name = relpath.rsplit("/", 1)[-1]
    site.text(relpath + ".sha256", f"{digest.hexdigest()}  {name}\n")


def write_table(
    site: SiteWriter,
    relpath: str,
    table: Table,
    rows: Iterable[dict[str, Any]],
    meta: dict[bytes, bytes],
) -> str:
    """Stream rows into one zstd Parquet file at ``relpath``, with a ``.sha256`` sidecar."""
    with site.open(relpath) as path:
        stream = TableStream(path, table.schema.with_metadata(meta))
        try:
            stream.extend(rows)
        finally:
            stream.close()
        _sidecar(site, relpath, path)
    return relpath


def write_catalogs(
    config: ArchiveConfig,
    donations: Iterable[StoredDonation],
    site: SiteWriter,
    folder: str = "catalog",
    release: str | None = None,
    releases: Sequence[ReleaseInfo] = (),
    withdrawals: Sequence[Withdrawal] = (),
    offers: Sequence[dict[str, Any]] | None = None,
    batch_rows: int = BATCH_ROWS,
) -> list[str]:
    """donations, series and instances Parquet (and the donation rate, given offers).

    ``donations`` may be a generator: each donation is read once and its rows are
    flushed in batches, so memory does not grow with the archive. ``offers`` are
    the lines of the private offers ledger; what is published of them is
    :func:`archive_builder.catalog.rates.rate_table`, as Parquet and CSV.
    """
    added = release_added(releases)
    tables = (DONATIONS, SERIES, INSTANCES)
    paths = [f"{folder}/{t.filename}" for t in tables]
    donors: list[Donor] = []
    with ExitStack() as stack:
        files = [stack.enter_context(site.open(p)) for p in paths]
        streams = [
            TableStream(f, t.schema.with_metadata(metadata(config, t, release)), batch_rows)
            for f, t in zip(files, tables, strict=True)
        ]
        try:
            for d in donations:
                streams[0].add(donation_row(d, added.get(d.public_id)))
                streams[1].extend(series_rows(d))
                streams[2].extend(instance_rows(d))
                donors.append(donor_of(d.record, d.modalities))
            for w in withdrawals:
                streams[0].add(withdrawn_row(w, added.get(w.public_id)))
        finally:
            for stream in streams:
                stream.close()
        for relpath, path in zip(paths, files, strict=True):
            _sidecar(site, relpath, path)
    if offers is not None:
        paths += write_donation_rate(config, site, folder, release, offers, donors)
    return paths


def write_donation_rate(
    config: ArchiveConfig,
    site: SiteWriter,
    folder: str,
    release: str | None,
    offers: Sequence[dict[str, Any]],
    donors: Sequence[Donor],
) -> list[str]:
    """``donation_rate.parquet`` and the same rows as ``donation_rate.csv``, each with a sidecar."""
    rows = [r.published() for r in rate_table(offers, donors)]
    dates = sorted(str(line["date"]) for line in offers)
    meta = metadata(config, DONATION_RATE, release)
    meta.update(
        {
            b"method": METHOD.encode(),
            b"period": (f"{dates[0]}/{dates[-1]}" if dates else "").encode(),
        }
    )
    parquet = write_table(site, f"{folder}/{DONATION_RATE.filename}", DONATION_RATE, rows, meta)
    out = io.StringIO()
    writer = csv.DictWriter(out, [c.name for c in DONATION_RATE.columns], lineterminator="\n")
    writer.writeheader()
    writer.writerows({k: "" if v is None else v for k, v in row.items()} for row in rows)
    relpath = f"{folder}/donation_rate.csv"
    site.text(relpath, out.getvalue())
    digest = hashlib.sha256(out.getvalue().encode("utf-8")).hexdigest()
    site.text(relpath + ".sha256", f"{digest}  donation_rate.csv\n")
    return [parquet, relpath]
