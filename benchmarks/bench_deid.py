"""De-identification benchmark: archive-builder beside dicognito, deid and plain pydicom.

    .venv/bin/pip install -e '.[bench]'
    .venv/bin/python benchmarks/bench_deid.py [--min-files 150] [--repeat 3]

The corpus is every publishable file of pydicom's test data and pydicom-data
(CT, MR, CR, NM, PET... in every transfer syntax they ship), each with a
fictitious patient's identifiers planted in the usual places and in the places
de-identifiers miss (free-text descriptions, attributes outside Table E.1-1,
nested and unlisted sequences, private blocks, UIDs of nested references);
files are replicated with distinct identifiers until there are ``--min-files``.
Every tool runs in its default setup on the same files in this one run; plain
pydicom read+write of the same files is the baseline. Leaks are counted by a
raw-bytes search of each tool's output files for the planted values of their
input (names, IDs, accession number, institution, physician, birth date, UID
root). Times are the best of ``--repeat`` runs. Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import shutil
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

from pydicom import dcmread

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from deid_corpus import Patient, corpus_files, planted_copies, raw_hits, readable

from archive_builder import keys
from archive_builder.deid.folder import deidentify_folder
from archive_builder.deid.risk import exclusion_reason

KEY = bytes(range(32))
Run = Callable[[list[Path], Path], None]


@dataclass
class Row:
    tool: str
    seconds: float
    files_out: int
    leaks: int
    files_with_leaks: int


def build_corpus(folder: Path, minimum: int) -> list[tuple[Path, Patient]]:
    """Planted copies of every publishable corpus file, replicated to ``minimum`` files."""
    publishable = []
    for path in corpus_files():
        ds = readable(path)
        if ds is not None and exclusion_reason(ds) is None:
            publishable.append(path)
    corpus: list[tuple[Path, Patient]] = []
    seed = 0
    while len(corpus) < minimum:
        for _, copy, patient in planted_copies(publishable, folder / f"r{seed}", seed=seed):
            corpus.append((copy, patient))
        seed += 1
    return corpus


def run_pydicom(files: list[Path], out: Path) -> None:
    for index, path in enumerate(files):
        ds = dcmread(path)
        ds.save_as(out / f"{index:05d}.dcm")


def run_archive_builder(jobs: int) -> Run:
    def run(files: list[Path], out: Path) -> None:
        folder = files[0].parents[1]
        for outcome in deidentify_folder(folder, out, KEY, jobs=jobs):
            if outcome.status not in ("ok", "skipped"):
                print(f"  archive-builder: {outcome.status} {outcome.message}", file=sys.stderr)

    return run


def run_dicognito(files: list[Path], out: Path) -> None:
    from dicognito.anonymizer import Anonymizer

    anonymizer = Anonymizer()
    for index, path in enumerate(files):
        ds = dcmread(path)
        anonymizer.anonymize(ds)
        ds.save_as(out / f"{index:05d}.dcm")


def run_deid(files: list[Path], out: Path) -> None:
    from deid.dicom import get_identifiers, replace_identifiers

    names = [str(p) for p in files]
    ids = get_identifiers(names)
    replace_identifiers(names, ids=ids, save=True, output_folder=str(out))


def count_leaks(tool: str, out: Path, corpus: list[tuple[Path, Patient]]) -> tuple[int, int, int]:
    """(files written, planted values found, files holding at least one)."""
    outputs = sorted(p for p in out.rglob("*.dcm"))
    if tool.startswith("archive-builder"):
        by_uid = {keys.uid(KEY, patient.uid_root + "3"): patient for _, patient in corpus}
        pairs = []
        for path in outputs:
            uid = str(dcmread(path, stop_before_pixels=True).SOPInstanceUID)
            pairs.append((path, by_uid[uid]))
    elif tool == "deid":
        by_name = {copy.name: patient for copy, patient in corpus}
        pairs = [(p, by_name[p.name]) for p in outputs if p.name in by_name]
    else:
        pairs = [(p, corpus[int(p.stem)][1]) for p in outputs]
    leaks = files_with = 0
    for path, patient in pairs:
        found = len(raw_hits(path.read_bytes(), patient.searched))
        leaks += found
        files_with += found > 0
    return len(outputs), leaks, files_with


def machine() -> str:
    cpu = platform.processor() or "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    packages = ", ".join(
        f"{name} {version(name)}" for name in ("pydicom", "dicognito", "deid", "archive-builder")
    )
    return (
        f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"{platform.system()} {platform.release()}; {packages}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--min-files", type=int, default=150)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    logging.disable(logging.CRITICAL)
    jobs = os.cpu_count() or 1
    tools: list[tuple[str, Run]] = [
        ("pydicom read+write (baseline)", run_pydicom),
        ("archive-builder, 1 process", run_archive_builder(1)),
        (f"archive-builder, {jobs} processes", run_archive_builder(jobs)),
        ("dicognito", run_dicognito),
        ("deid", run_deid),
    ]
    with tempfile.TemporaryDirectory(prefix="bench-deid-") as scratch:
        root = Path(scratch)
        corpus = build_corpus(root / "in", args.min_files)
        files = [copy for copy, _ in corpus]
        megabytes = sum(p.stat().st_size for p in files) / 1e6
        planted = sum(len(p.searched) for _, p in corpus)
        print(f"corpus: {len(files)} files, {megabytes:.1f} MB, {planted} planted values")
        rows = []
        for name, run in tools:
            best = float("inf")
            for attempt in range(args.repeat):
                out = root / f"out-{len(rows)}-{attempt}"
                out.mkdir()
                start = time.perf_counter()
                try:
                    run(files, out)
                except Exception as exc:  # a competitor failing is a result, not a crash
                    print(f"  {name} failed: {type(exc).__name__}: {exc}", file=sys.stderr)
                best = min(best, time.perf_counter() - start)
                if attempt < args.repeat - 1:
                    shutil.rmtree(out)
            written, leaks, with_leaks = count_leaks(name, out, corpus)
            rows.append(Row(name, best, written, leaks, with_leaks))
    baseline = rows[0].seconds
    dicognito = next(row.seconds for row in rows if row.tool == "dicognito")
    print()
    print(f"Machine: {machine()}")
    print()
    print(
        "| tool | files/s | MB/s | time vs pydicom | throughput vs dicognito | files written "
        "| planted values left (files) |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    for row in rows:
        print(
            f"| {row.tool} | {len(files) / row.seconds:.1f} | {megabytes / row.seconds:.1f} | "
            f"{row.seconds / baseline:.2f}x | {dicognito / row.seconds:.2f}x | {row.files_out} | "
            f"{row.leaks} ({row.files_with_leaks}) |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
