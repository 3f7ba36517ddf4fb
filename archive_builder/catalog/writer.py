"""Writing the Parquet catalogs in one streaming pass: memory stays bounded by the batch size."""

from __future__ import annotations

import csv
import hashlib
import io
import json
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
from ..store.urls import dataset_id, object_url
from .rates import METHOD, Donor, donor_of, rate_table
from .tables import DONATION_RATE, DONATIONS, INSTANCES, SCHEMA_VERSION, SERIES, Table

BATCH_ROWS = 10_000
# Past this many instance rows (about 60 MB of zstd Parquet; 2,000 studies of 500 files), the
# catalogs are written as hive-partitioned folders, one partition per month of donation
# (``catalog/instances/donation_month=2026-10/part-0.parquet``): a new donation then rewrites
# and re-deploys one month's files instead of the whole table, and readers that filter on
# the month skip the others. Below it, one file per table is simplest for every reader.
PARTITION_FROM = 1_000_000
PARTITION = "donation_month"
FILES = "files.json"  # the list of a catalog's files, for readers that cannot list (HTTP)


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


def instance_rows(d: StoredDonation, base_url: str | None = None) -> Iterator[dict[str, Any]]:
    names = [c.name for c in INSTANCES.columns]
    dataset = dataset_id(d.path) if base_url else None
    for inst in d.instances:
        row = {k: inst.get(k) for k in names}
        row["public_id"] = d.public_id
        if dataset and inst.get("annex_key"):
            row["url"] = object_url(str(base_url), dataset, inst["annex_key"])
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


def _digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1024 * 1024):
            digest.update(chunk)
    return digest.hexdigest()


def _sidecar(site: SiteWriter, relpath: str, path: Path) -> None:
    name = relpath.rsplit("/", 1)[-1]
    site.text(relpath + ".sha256", f"{_digest(path)}  {name}\n")


def write_table(
    site: SiteWriter,
    relpath: str,
    table: Table,
    rows: Iterable[dict[str, Any]],
    meta: dict[bytes, bytes],
    sidecar: bool = True,
) -> str:
    """Stream rows into one zstd Parquet file at ``relpath``, with a ``.sha256`` sidecar."""
    with site.open(relpath) as path:
        stream = TableStream(path, table.schema.with_metadata(meta))
        try:
            stream.extend(rows)
        finally:
            stream.close()
        if sidecar:
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
    partition_from: int = PARTITION_FROM,
) -> list[str]:
    """donations, series and instances Parquet (and the donation rate, given offers).

    ``donations`` may be a generator: each donation is read once and its rows are
    flushed in batches, so memory does not grow with the archive. ``offers`` are
    the lines of the private offers ledger; what is published of them is
    :func:`archive_builder.catalog.rates.rate_table`, as Parquet and CSV.
    Given as a sequence with ``partition_from`` instances or more, the three tables
    are hive-partitioned by month of donation. ``folder/files.json`` lists every file
    of every table, for readers over HTTP.
    """
    added = release_added(releases)
    tables = (DONATIONS, SERIES, INSTANCES)
    donors: list[Donor] = []
    if isinstance(donations, Sequence) and (
        sum(len(d.instances) for d in donations) >= partition_from
    ):
        by_month: dict[str, list[StoredDonation]] = {}
        for d in donations:
            by_month.setdefault(str(d.record["consent"]["month"]), []).append(d)
        listing: dict[str, list[str]] = {t.name: [] for t in tables}
        for month, group in sorted(by_month.items()):
            paths = [f"{folder}/{t.name}/{PARTITION}={month}/part-0.parquet" for t in tables]
            donors += _write_tables(config, group, (), site, paths, release, added, batch_rows)
            for table, path in zip(tables, paths, strict=True):
                listing[table.name].append(path.removeprefix(f"{folder}/"))
        if withdrawals:  # rows of the donations table only, with nothing but the id left
            path = f"{DONATIONS.name}/{PARTITION}=withdrawn/part-0.parquet"
            rows = (withdrawn_row(w, added.get(w.public_id)) for w in withdrawals)
            meta = metadata(config, DONATIONS, release)
            write_table(site, f"{folder}/{path}", DONATIONS, rows, meta, sidecar=False)
            listing[DONATIONS.name].append(path)
        for table in tables:  # one checksum file per table: readers skip names starting "_"
            lines = [
                f"{_digest(site.root / folder / name)}  {name.split('/', 1)[1]}\n"
                for name in listing[table.name]
            ]
            site.text(f"{folder}/{table.name}/_SHA256SUMS", "".join(lines))
    else:
        paths = [f"{folder}/{t.filename}" for t in tables]
        donors += _write_tables(
            config, donations, withdrawals, site, paths, release, added, batch_rows, True
        )
        listing = {t.name: [t.filename] for t in tables}
    written = [f"{folder}/{name}" for files in listing.values() for name in files]
    if offers is not None:
        rate = write_donation_rate(config, site, folder, release, offers, donors)
        written += rate
        listing[DONATION_RATE.name] = [r.removeprefix(f"{folder}/") for r in rate[:1]]
    partitioned = any("/" in name for files in listing.values() for name in files)
    index = {"partitioning": PARTITION if partitioned else None, "tables": listing}
    site.text(f"{folder}/{FILES}", json.dumps(index, indent=1) + "\n")
    return written


def _write_tables(
    config: ArchiveConfig,
    donations: Iterable[StoredDonation],
    withdrawals: Sequence[Withdrawal],
    site: SiteWriter,
    paths: list[str],
    release: str | None,
    added: dict[str, str],
    batch_rows: int,
    sidecars: bool = False,
) -> list[Donor]:
    """The donations, series and instances rows of ``donations`` into one file each;
    returns each donation's donor (for the donation rate)."""
    tables = (DONATIONS, SERIES, INSTANCES)
    donors = []
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
                streams[2].extend(instance_rows(d, config.base_url))
                donors.append(donor_of(d.record, d.modalities))
            for w in withdrawals:
                streams[0].add(withdrawn_row(w, added.get(w.public_id)))
        finally:
            for stream in streams:
                stream.close()
        for relpath, path in zip(paths, files, strict=True):
            if sidecars:
                _sidecar(site, relpath, path)
    return donors


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
