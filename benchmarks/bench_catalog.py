"""Catalog benchmark: writing 100,000 synthetic instances, and a DuckDB cohort query.

    .venv/bin/pip install -e '.[bench]' && .venv/bin/python benchmarks/bench_catalog.py

Each write runs in a fresh subprocess so its peak memory is its own. The
baseline, in the same run, is the naive way: every row in one list, then one
table. The streaming writer's peak memory should stay flat as the archive grows;
the baseline's grows with it. The query is timed over the Parquet catalogs and
over CSV files of the same rows.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

PER_DONATION = 50
SIZES = (25_000, 50_000, 100_000)


def synthetic_donations(instances: int) -> Iterator[Any]:
    """Donations made on the fly (never all in memory), with realistic header values."""
    import random

    from archive_builder.store.content import StoredDonation

    rng = random.Random(42)
    regions = ("HEAD", "CHEST", "ABDOMEN", "PELVIS", "KNEE")
    for n in range(instances // PER_DONATION):
        pid = f"don-{n:08d}"
        modality = rng.choice(("CT", "MR", "CR"))
        region = rng.choice(regions)
        study = f"2.25.{rng.getrandbits(100)}"
        items = []
        for i in range(PER_DONATION):
            series = 1 + i // 20
            sha = f"{rng.getrandbits(256):064x}"
            size = rng.randint(100_000, 600_000)
            items.append(
                {
                    "path": f"series-{series:03d}/instance-{i + 1:04d}.dcm",
                    "size": size,
                    "sha256": sha,
                    "annex_key": f"SHA256E-s{size}--{sha}.dcm",
                    "TransferSyntaxUID": "1.2.840.10008.1.2.1",
                    "StudyInstanceUID": study,
                    "SeriesInstanceUID": f"{study}.{series}",
                    "SOPInstanceUID": f"{study}.{series}.{i}",
                    "SOPClassUID": "1.2.840.10008.5.1.4.1.1.2",
                    "Modality": modality,
                    "SeriesNumber": series,
                    "InstanceNumber": i + 1,
                    "SeriesDescription": "AXIAL",
                    "BodyPartExamined": region,
                    "Manufacturer": rng.choice(("SIEMENS", "GE MEDICAL SYSTEMS", "Philips")),
                    "SliceThickness": rng.choice((0.625, 1.0, 2.5, 5.0)),
                    "PixelSpacing": "0.7\\0.7",
                    "Rows": 512,
                    "Columns": 512,
                    "NumberOfFrames": None,
                    "BitsAllocated": 16,
                    "PhotometricInterpretation": "MONOCHROME2",
                    "ImageType": "ORIGINAL\\PRIMARY\\AXIAL",
                    "KVP": 120.0,
                    "MagneticFieldStrength": None,
                    "RepetitionTime": None,
                    "EchoTime": None,
                    "StudyDate": "20190312",
                }
            )
        record = {
            "public_id": pid,
            "license": "CC-BY-4.0",
            "consent": {"text_version": "v1", "month": "2026-10"},
            "subject": {"age": str(rng.randint(18, 95)) if n % 7 else "90+", "sex": "F"},
            "study": {
                "anatomical_region": region,
                "diagnoses": [{"system": "ICD-10", "code": "R51", "display": "Headache"}],
            },
        }
        yield StoredDonation(pid, Path("/nonexistent"), record, {}, items)


def _config() -> Any:
    from archive_builder.config import ArchiveConfig

    return ArchiveConfig(
        name="Benchmark Archive",
        description="Synthetic.",
        publisher="Bench",
        contact="bench@example.org",
        base_url="https://bench.example.org/",
        license="CC-BY-4.0",
    )


def run_one(method: str, instances: int, out: Path) -> dict[str, float]:
    """In a fresh process: write the catalogs one way; report time and memory."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from archive_builder.catalog import DONATIONS, INSTANCES, SERIES, write_catalogs
    from archive_builder.catalog.writer import donation_row, instance_rows, series_rows
    from archive_builder.sitefiles import SiteWriter

    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    site = SiteWriter(out)
    if method == "streaming":
        write_catalogs(_config(), synthetic_donations(instances), site)
    else:  # baseline: the whole archive's rows in memory, then one table each
        donations = list(synthetic_donations(instances))
        for table, rows in (
            (DONATIONS, [donation_row(d) for d in donations]),
            (SERIES, [r for d in donations for r in series_rows(d)]),
            (INSTANCES, [r for d in donations for r in instance_rows(d)]),
        ):
            out.joinpath("catalog").mkdir(parents=True, exist_ok=True)
            pq.write_table(
                pa.Table.from_pylist(rows, schema=table.schema),
                out / "catalog" / table.filename,
                compression="zstd",
            )
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"seconds": seconds, "peak_mb": (peak - base) / 1024}


def query_times(folder: Path, repeat: int = 5) -> tuple[float, float, int]:
    """Median seconds of one cohort query over Parquet and over CSV of the same rows."""
    import duckdb
    import pyarrow.csv as pcsv
    import pyarrow.parquet as pq

    catalog = folder / "catalog"
    donations = pq.read_table(catalog / "donations.parquet").drop_columns(
        ["diagnosis_codes", "modalities"]
    )
    pcsv.write_csv(donations, catalog / "donations.csv")
    pcsv.write_csv(pq.read_table(catalog / "instances.parquet"), catalog / "instances.csv")
    sql = """
        SELECT i.public_id, i.path, i.annex_key
        FROM read_{fmt}('{dir}/instances.{ext}') AS i
        JOIN read_{fmt}('{dir}/donations.{ext}') AS d USING (public_id)
        WHERE i.Modality = 'CT' AND d.anatomical_region = 'CHEST'
          AND d.age BETWEEN 40 AND 70
    """
    results = {}
    for fmt, ext in (("parquet", "parquet"), ("csv", "csv")):
        times, rows = [], 0
        for _ in range(repeat):
            con = duckdb.connect()  # a fresh connection: no cached state between runs
            start = time.perf_counter()
            rows = len(con.execute(sql.format(fmt=fmt, ext=ext, dir=catalog)).fetchall())
            times.append(time.perf_counter() - start)
            con.close()
        results[fmt] = (statistics.median(times), rows)
    assert results["parquet"][1] == results["csv"][1], "both formats must give the same cohort"
    return results["parquet"][0], results["csv"][0], results["parquet"][1]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--one", nargs=3, metavar=("METHOD", "INSTANCES", "OUT"))
    args = parser.parse_args()
    if args.one:
        method, count, out = args.one
        print(json.dumps(run_one(method, int(count), Path(out))))
        return
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for size in SIZES:
            for method in ("baseline", "streaming"):
                out = Path(tmp) / f"{method}-{size}"
                done = subprocess.run(
                    [sys.executable, __file__, "--one", method, str(size), str(out)],
                    capture_output=True,
                    text=True,
                    check=True,
                )
                stats = json.loads(done.stdout)
                rows.append(
                    (method, size, stats["seconds"], size / stats["seconds"], stats["peak_mb"])
                )
        parquet_s, csv_s, cohort = query_times(Path(tmp) / f"streaming-{SIZES[-1]}")
    print("| writer | instances | seconds | instances/s | peak memory above start (MB) |")
    print("|---|---:|---:|---:|---:|")
    for method, size, seconds, rate, peak in rows:
        print(f"| {method} | {size:,} | {seconds:.2f} | {rate:,.0f} | {peak:.0f} |")
    print()
    print(f"DuckDB cohort query (CT, CHEST, age 40-70; {cohort:,} instances), median of 5:")
    print("| format | seconds |")
    print("|---|---:|")
    print(f"| Parquet catalogs | {parquet_s:.3f} |")
    print(f"| CSV, same rows | {csv_s:.3f} |")


if __name__ == "__main__":
    main()
