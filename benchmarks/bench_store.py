"""Benchmark: ingest against plain git-annex, and full versus incremental builds.

    .venv/bin/python benchmarks/bench_store.py [--instances 1000] [--donations 100]

1. A synthetic study of N instances of about 0.5 MB each (a real CT header from
   pydicom's test data, 512x512 16-bit pixels, fresh UIDs) is ingested with
   archive-builder. In the same run, the same study is de-identified alone, and
   the de-identified files are added with plain `git annex add` + `git commit`.
   The target is ingest <= 1.3 x (de-identification + plain git-annex).
2. An archive of M one-file donations is built from scratch (pages, catalogs,
   and the DataLad store publication), rebuilt with nothing changed, and
   rebuilt after adding one donation: a build redoes only what changed.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import pydicom.data
from pydicom import dcmread
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

from archive_builder import keys, pipeline
from archive_builder.archive import open_archive
from archive_builder.config import Limits
from archive_builder.deid import Donor, age_string, deidentify_study
from archive_builder.intake import open_package
from archive_builder.process import tool_env

warnings.simplefilter("ignore")
RECORD = {
    "schema_version": 1,
    "consent": {
        "given_at": "2026-10-01T09:30:00+02:00",
        "text_version": "v1",
        "license": "CC0-1.0",
    },
    "subject": {"age_years": 61, "sex": "M"},
    "study": {"anatomical_region": "CHEST", "diagnoses": []},
}


def synthetic_study(folder: Path, instances: int, donation_id: str, size: int = 512) -> Path:
    folder.mkdir(parents=True)
    template = dcmread(pydicom.data.get_testdata_file("CT_small.dcm"))
    template.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    template.Rows = template.Columns = size
    template.BitsAllocated, template.BitsStored, template.HighBit = 16, 16, 15
    template.StudyInstanceUID = generate_uid()
    template.SeriesInstanceUID = generate_uid()
    template.BodyPartExamined = "CHEST"  # a CT series of the head would be defaced
    x, y, z = (float(v) for v in template.ImagePositionPatient)
    for n in range(instances):
        # evenly spaced axial slices: the pixel stage refuses a CT series it cannot
        # check for a face (all slices at one position)
        template.ImagePositionPatient = [x, y, z + n * float(template.SliceThickness)]
        template.SliceLocation = z + n * float(template.SliceThickness)
        template.SOPInstanceUID = generate_uid()
        template.file_meta.MediaStorageSOPInstanceUID = template.SOPInstanceUID
        template.InstanceNumber = n + 1
        template.PixelData = os.urandom(size * size * 2)
        template.save_as(folder / f"IMG{n:05d}.dcm", enforce_file_format=True)
    (folder / "donation.json").write_text(json.dumps({**RECORD, "donation_id": donation_id}))
    return folder


def new_archive(root: Path) -> pipeline.Archive:
    return pipeline.init(
        root,
        name="Bench",
        publisher="Bench",
        contact="bench@example.org",
        base_url="https://bench.example.org/",
    )


def timed(func, *args, **kwargs):  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    result = func(*args, **kwargs)
    return time.perf_counter() - start, result


def bench_ingest(work: Path, instances: int) -> list[tuple[str, float]]:
    package = synthetic_study(work / "package", instances, "bench-study-000001")
    mb = sum(p.stat().st_size for p in package.glob("*.dcm")) / 1e6
    print(f"study: {instances} instances, {mb:.0f} MB", file=sys.stderr)

    archive = new_archive(work / "archive")

    # de-identification alone (survey of headers included, as ingest does it)
    def deid_only() -> Path:
        out = work / "deid-only"
        with open_package(package, Limits(), work / "scratch") as opened:
            rid = opened.record.donation_id
            donor = Donor(
                archive.key,
                keys.public_id(archive.key, rid),
                keys.date_offset_days(archive.key, rid),
                age_string(61),
                "M",
            )
            deidentify_study(opened.instances, donor, out, secrets=[rid])
        return out

    t_deid, out = timed(deid_only)

    env = tool_env(("Bench", "bench@example.org"))

    def plain_annex() -> None:
        for args in (
            ["git", "init", "-q"],
            ["git", "annex", "init", "-q"],
            ["git", "-c", "annex.backend=SHA256E", "annex", "add", "-q", "."],
            ["git", "commit", "-q", "-m", "add"],
        ):
            subprocess.run(args, cwd=out, env=env, check=True, capture_output=True)

    t_annex, _ = timed(plain_annex)
    t_ingest, results = timed(lambda: list(pipeline.ingest(archive, [package])))
    assert results[-1].status == "ok", results[-1]
    return [
        ("de-identification alone", t_deid),
        ("plain git annex add + commit", t_annex),
        ("archive-builder ingest", t_ingest),
        ("ratio ingest / (deid + annex)", t_ingest / (t_deid + t_annex)),
    ]


def bench_build(work: Path, donations: int) -> list[tuple[str, float]]:
    archive = new_archive(work / "build-archive")
    packages = [
        synthetic_study(work / f"d{n}", 1, f"bench-donation-{n:05d}", size=64)
        for n in range(donations + 1)
    ]
    t_ingest, results = timed(lambda: list(pipeline.ingest(archive, packages[:-1])))
    assert all(r.status == "ok" for r in results if r.action == "ingest")
    archive = open_archive(archive.layout.root)
    t_full, _ = timed(pipeline.build, archive)
    t_again, summary = timed(pipeline.build, archive)
    list(pipeline.ingest(archive, packages[-1:]))
    t_one, summary_one = timed(pipeline.build, archive)
    return [
        (f"ingest of {donations} one-file donations", t_ingest),
        (f"full build of {donations} donations (with store publication)", t_full),
        (f"rebuild, nothing changed ({summary.changed} files written)", t_again),
        (f"rebuild after one more donation ({summary_one.changed} files written)", t_one),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instances", type=int, default=1000)
    parser.add_argument("--donations", type=int, default=100)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-store-"))
    try:
        rows = bench_ingest(work, args.instances) + bench_build(work, args.donations)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"\n| measurement ({os.cpu_count()} cores) | seconds |\n|---|---:|")
    for label, value in rows:
        print(
            f"| {label} | {value:.2f} |" if "ratio" not in label else f"| {label} | {value:.2f}x |"
        )


if __name__ == "__main__":
    main()
