"""The Parquet catalogs: explicit schemas, zstd, provenance metadata, checksums, streaming."""

from __future__ import annotations

import functools
import hashlib
import http.server
import io
import json
import subprocess
import threading
import urllib.request
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from archive_builder.catalog import DONATION_RATE, DONATIONS, INSTANCES, SERIES, write_catalogs
from archive_builder.catalog.tables import SCHEMA_VERSION
from archive_builder.config import ArchiveConfig
from archive_builder.process import tool_env
from archive_builder.release import ReleaseInfo, Withdrawal
from archive_builder.sitefiles import SiteWriter
from archive_builder.store.content import StoredDonation

TABLES = (DONATIONS, SERIES, INSTANCES, DONATION_RATE)
CONFIG = ArchiveConfig(
    name="Synthetic Archive",
    description="Synthetic *rows*.",
    publisher="Test Publisher",
    contact="archive@example.org",
    base_url="https://data.example.org/",
    license="CC-BY-4.0",
)


def test_catalogs_are_zstd_parquet_with_provenance_and_checksums(demo_archive: Path) -> None:
    catalog = demo_archive / "site" / "catalog"
    for table in TABLES:
        path = catalog / table.filename
        meta = pq.ParquetFile(path).metadata
        kv = {k.decode(): v.decode() for k, v in meta.metadata.items()}
        assert kv["archive"] == "Open Imaging Donations (demo)"
        assert kv["release"] == "1.0.0"  # the demo's release, nothing changed since
        assert kv["schema_version"] == SCHEMA_VERSION
        for rg in range(meta.num_row_groups):
            for col in range(meta.num_columns):
                assert meta.row_group(rg).column(col).compression == "ZSTD"
        schema = pq.read_schema(path)
        assert schema.names == [c.name for c in table.columns]
        for field in schema:
            assert field.metadata and field.metadata[b"description"], f"{field.name} undocumented"
        # the sidecar is in sha256sum's format: the standard tool checks it
        check = subprocess.run(
            ["sha256sum", "-c", f"{table.filename}.sha256"],
            cwd=catalog,
            capture_output=True,
            text=True,
        )
        assert check.returncode == 0, check.stdout + check.stderr


def test_instances_catalog_lists_every_published_file_with_its_key(demo_archive: Path) -> None:
    datasets = demo_archive / "datasets"
    on_disk = sorted(p.relative_to(datasets).as_posix() for p in datasets.glob("*/series-*/*.dcm"))
    table = pq.read_table(demo_archive / "site/catalog/instances.parquet").to_pylist()
    listed = sorted(f"{r['public_id']}/{r['path']}" for r in table)
    assert listed == on_disk
    donation = table[0]["public_id"]
    for row in (r for r in table if r["public_id"] == donation):
        path = datasets / donation / row["path"]
        data = path.read_bytes()
        assert row["size"] == len(data)
        assert row["sha256"] == hashlib.sha256(data).hexdigest()
        key = subprocess.run(
            ["git", "-C", str(datasets / donation), "annex", "lookupkey", row["path"]],
            capture_output=True,
            text=True,
            check=True,
            env=tool_env(),  # git-annex from this environment (the PyPI wheel)
        ).stdout.strip()
        assert row["annex_key"] == key
        assert row["Modality"] and row["SOPInstanceUID"] and row["Rows"]


def test_series_and_donations_agree_with_instances(demo_archive: Path) -> None:
    catalog = demo_archive / "site/catalog"
    instances = pq.read_table(catalog / "instances.parquet").to_pylist()
    series = pq.read_table(catalog / "series.parquet").to_pylist()
    donations = pq.read_table(catalog / "donations.parquet").to_pylist()
    assert len(donations) == 7
    for s in series:
        mine = [i for i in instances if i["SeriesInstanceUID"] == s["SeriesInstanceUID"]]
        assert s["NumberOfSeriesRelatedInstances"] == len(mine)
        assert s["total_bytes"] == sum(i["size"] for i in mine)
    for d in donations:
        mine = [i for i in instances if i["public_id"] == d["public_id"]]
        assert d["instance_count"] == len(mine)
        assert d["modalities"] == sorted({i["Modality"] for i in mine})
        assert 0 <= d["age"] <= 90
        assert d["withdrawn"] is False
        published = json.loads(
            (demo_archive / "datasets" / d["public_id"] / "donation.json").read_text()
        )
        assert d["diagnosis_codes"] == [
            f"{x['system']}:{x['code']}" for x in published["study"]["diagnoses"]
        ]
        assert d["anatomical_region"] == published["study"]["anatomical_region"]
        assert d["license"] == published["license"]


def test_catalog_page_documents_every_column(demo_archive: Path) -> None:
    page = (demo_archive / "site/catalog/index.html").read_text()
    for table in TABLES:
        for name in pq.read_schema(demo_archive / "site/catalog" / table.filename).names:
            assert name in page, f"{table.name}.{name} is not documented on the catalog page"


# --- synthetic donations, written without DataLad ---------------------------------------------


def _donation(public_id: str, age: str, instances: list[dict[str, Any]]) -> StoredDonation:
    record = {
        "public_id": public_id,
        "license": "CC0-1.0",
        "consent": {"text_version": "v1", "month": "2026-10"},
        "subject": {"age": age, "sex": "O"},
        "study": {
            "anatomical_region": "CHEST",
            "diagnoses": [{"system": "ICD-10", "code": "J18.9", "display": "Pneumonia"}],
        },
    }
    return StoredDonation(public_id, Path("/nonexistent"), record, {}, instances)


_instance = st.fixed_dictionaries(
    {
        "size": st.integers(0, 2**40),
        "sha256": st.text("0123456789abcdef", min_size=64, max_size=64),
        "Modality": st.sampled_from(["CT", "MR", "CR"]),
        "SeriesNumber": st.integers(1, 5),
        "Rows": st.one_of(st.none(), st.integers(1, 4096)),
        "SliceThickness": st.one_of(st.none(), st.floats(0.1, 10)),
        "ImageType": st.one_of(st.none(), st.text(max_size=20)),
    }
)


def _complete(public_id: str, index: int, inst: dict[str, Any]) -> dict[str, Any]:
    series = inst["SeriesNumber"]
    return {
        **inst,
        "path": f"series-{series:03d}/instance-{index:04d}.dcm",
        "annex_key": f"SHA256E-s{inst['size']}--{inst['sha256']}.dcm",
        "StudyInstanceUID": f"2.25.{abs(hash(public_id))}",
        "SeriesInstanceUID": f"2.25.{abs(hash(public_id))}.{series}",
        "SOPInstanceUID": f"2.25.{abs(hash(public_id))}.{series}.{index}",
        "SeriesDescription": None,
        "BodyPartExamined": "CHEST",
        "Manufacturer": None,
        "Columns": inst["Rows"],
    }


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.lists(st.lists(_instance, min_size=1, max_size=8), min_size=1, max_size=6),
    st.integers(1, 5),
)
def test_catalogs_read_back_what_was_written(
    tmp_path: Path, donations: list[list[dict[str, Any]]], batch_rows: int
) -> None:
    stored = [
        _donation(
            f"don-{n:03d}",
            str(30 + n),
            [_complete(f"don-{n:03d}", i, inst) for i, inst in enumerate(insts)],
        )
        for n, insts in enumerate(donations)
    ]
    root = tmp_path / f"site-{abs(hash(str(donations)))}-{batch_rows}"
    site = SiteWriter(root)
    # a generator: the writer must not need the whole archive at once
    write_catalogs(CONFIG, (d for d in stored), site, batch_rows=batch_rows)
    back = pq.read_table(root / "catalog/instances.parquet").to_pylist()
    expected = [dict(i, public_id=d.public_id) for d in stored for i in d.instances]
    assert len(back) == len(expected)
    for got, want in zip(back, expected, strict=True):
        for key in (c.name for c in INSTANCES.columns):
            assert got[key] == want.get(key), key
    meta = pq.ParquetFile(root / "catalog/instances.parquet").metadata
    assert meta.num_row_groups == -(-len(expected) // batch_rows)
    rows = pq.read_table(root / "catalog/donations.parquet").to_pylist()
    assert [r["public_id"] for r in rows] == [d.public_id for d in stored]


def test_release_added_withdrawn_rows_and_age_cap(tmp_path: Path) -> None:
    inst = _complete(
        "don-a",
        1,
        {
            "size": 3,
            "sha256": "0" * 64,
            "Modality": "CT",
            "SeriesNumber": 1,
            "Rows": 2,
            "SliceThickness": 1.0,
            "ImageType": None,
        },
    )
    stored = [_donation("don-a", "90+", [inst]), _donation("don-b", "47", [inst])]
    releases = [
        ReleaseInfo("1.0", "2026-10-01", added=("don-a", "don-gone")),
        ReleaseInfo("1.1", "2026-11-01", added=("don-b",), withdrawn=("don-gone",)),
    ]
    site = SiteWriter(tmp_path)
    write_catalogs(
        CONFIG,
        stored,
        site,
        release="1.1",
        releases=releases,
        withdrawals=[Withdrawal("don-gone", "2026-10-20")],
    )
    rows = {
        r["public_id"]: r for r in pq.read_table(tmp_path / "catalog/donations.parquet").to_pylist()
    }
    assert rows["don-a"]["age"] == 90 and rows["don-a"]["release_added"] == "1.0"
    assert rows["don-b"]["age"] == 47 and rows["don-b"]["release_added"] == "1.1"
    gone = rows["don-gone"]
    assert gone["withdrawn"] is True and gone["release_added"] == "1.0"
    assert gone["age"] is None and gone["sex"] is None and gone["license"] is None
    kv = pq.ParquetFile(tmp_path / "catalog/donations.parquet").metadata.metadata
    assert kv[b"release"] == b"1.1"


def test_past_the_threshold_catalogs_are_hive_partitioned_and_read_as_one_table(
    demo_archive: Path, tmp_path: Path
) -> None:

    import pyarrow as pa
    import pyarrow.dataset as ds

    from archive_builder.archive import open_archive
    from archive_builder.pipeline import stored_donations

    archive = open_archive(demo_archive)
    donations = stored_donations(archive.layout)
    # the demo's donations are all of one month: make them span three
    months = ["2026-08", "2026-09", "2026-10"]
    for n, d in enumerate(donations):
        d.record["consent"] = {**d.record["consent"], "month": months[n % 3]}
    gone = [Withdrawal("don-gone", "2026-10-20")]
    write_catalogs(CONFIG, donations, SiteWriter(tmp_path / "one"), withdrawals=gone)
    write_catalogs(
        CONFIG, donations, SiteWriter(tmp_path / "parts"), withdrawals=gone, partition_from=1
    )
    one, parts = tmp_path / "one" / "catalog", tmp_path / "parts" / "catalog"
    index = json.loads((parts / "files.json").read_text())
    assert index["partitioning"] == "donation_month"
    assert index["tables"]["instances"] == [
        f"instances/donation_month={m}/part-0.parquet" for m in months
    ]
    assert json.loads((one / "files.json").read_text())["tables"]["instances"] == [
        "instances.parquet"
    ]
    sums = subprocess.run(  # each table's parts are listed in its _SHA256SUMS
        ["sha256sum", "-c", "_SHA256SUMS"], cwd=parts / "instances", capture_output=True
    )
    assert sums.returncode == 0 and sums.stdout.count(b": OK") == 3, sums.stdout

    def key(row: dict[str, Any]) -> tuple[str, str]:
        return row["public_id"], str(row.get("path") or row.get("SeriesInstanceUID") or "")

    for table in ("donations", "series", "instances"):
        whole = sorted(pq.read_table(one / f"{table}.parquet").to_pylist(), key=key)
        # pyarrow (and pandas, which reads through it) see one table, with the month
        dataset = ds.dataset(parts / table, format="parquet", partitioning="hive")
        rows = sorted(dataset.to_table().to_pylist(), key=key)
        assert [{k: v for k, v in r.items() if k != "donation_month"} for r in rows] == whole
        by_id = {d.public_id: months[n % 3] for n, d in enumerate(donations)}
        assert all(r["donation_month"] == by_id.get(r["public_id"], "withdrawn") for r in rows)
        try:
            import duckdb
        except ImportError:
            continue
        count = duckdb.sql(
            f"SELECT count(*) FROM read_parquet('{parts}/{table}/*/*.parquet', "
            "hive_partitioning = true)"
        ).fetchall()
        assert count == [(len(whole),)]

    # the cohort page reads the same list: each month's part of each table
    from archive_builder.site import cohort

    tables = cohort.settings(CONFIG, False, cohort.catalog_files(tmp_path / "parts"))["tables"]
    assert tables["instances"] == [f"../catalog/{name}" for name in index["tables"]["instances"]]
    whole_files = cohort.settings(CONFIG, False, cohort.catalog_files(tmp_path / "one"))["tables"]
    assert whole_files["donations"] == ["../catalog/donations.parquet"]

    # over plain HTTP: the list of files, then each part, as the catalog page shows it
    handler = functools.partial(QuietHandler, directory=str(tmp_path / "parts"))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}/catalog/"
        listing = json.load(urllib.request.urlopen(base + "files.json"))
        tables = [
            pq.read_table(io.BytesIO(urllib.request.urlopen(base + name).read()))
            for name in listing["tables"]["instances"]
        ]
        over_http = pa.concat_tables(tables)
        assert over_http.num_rows == pq.read_metadata(one / "instances.parquet").num_rows
    finally:
        server.shutdown()
        server.server_close()


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass
