"""De-identification benchmark: archive-builder beside dicognito, deid and plain pydicom.

    .venv/bin/pip install -e '.[bench]'
    .venv/bin/python benchmarks/bench_deid.py [--min-files 150] [--repeat 3]

The corpus is every publishable file of pydicom's test data and pydicom-data
(CT, MR, CR, NM, PET... in every transfer syntax they ship), each with a
fictitious patient's identifiers planted in the usual places and in the places
de-identifiers miss (free-text descriptions, attributes outside Table E.1-1,
nested and unlisted sequences, private blocks, UIDs of nested references), and
in other spellings in allow-listed technical text and code meanings (an
umlaut name written back as UE and as U, an ID glued to letters and its digits
split by underscores, a word of the institution's name, the given name of a
Han name, a UID under the standard's root that it never registered); files
are replicated with distinct identifiers until there are ``--min-files``.
Every tool runs in its default setup on the same files in this one run; plain
pydicom read+write of the same files is the baseline. Leaks are counted by a
raw-bytes search of each tool's output files for the planted values of their
input (names, IDs, accession number, institution, physician, birth date, UID
root, and the other spellings above). Times are the best of ``--repeat`` runs.
Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any

from pydicom import dcmread

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from deid_corpus import Patient, corpus_files, planted_copies, raw_hits, readable

from archive_builder import keys
from archive_builder.deid.folder import deidentify_folder
from archive_builder.deid.risk import exclusion_reason
from archive_builder.pixels import text
from archive_builder.pixels.review import _SCREENED as screened

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


def whole_process(command: list[str], repeat: int) -> float:
    """Best wall time of ``command`` run as a user runs it (a new process each time)."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(command, check=False, capture_output=True)
        best = min(best, time.perf_counter() - start)
    return best


def processes_table(folders: list[tuple[str, Path, int]], scratch: Path, repeat: int) -> None:
    """Start-up, and whole ``archive-builder deid`` and ``dicognito`` runs on each folder."""
    tool = str(Path(sys.executable).with_name("archive-builder"))
    print()
    print(f"| measurement (whole processes, best of {repeat}) | seconds |")
    print("|---|---:|")
    for args in (["--help"], ["deid", "--help"]):
        seconds = whole_process([tool, *args], repeat)
        print(f"| start-up: `archive-builder {' '.join(args)}` | {seconds:.2f} |")
    for label, folder, count in folders:
        key = scratch / f"key-{label}"
        commands = {
            "archive-builder deid": [
                tool,
                "deid",
                str(folder),
                "OUT",
                "--key-file",
                str(key),
                "-q",
            ],
            "dicognito": [sys.executable, "-m", "dicognito", "-o", "OUT", "--quiet", str(folder)],
        }
        times = {}
        for name, command in commands.items():
            best = float("inf")
            for attempt in range(repeat):
                out = scratch / f"proc-{label}-{name.split()[0]}-{attempt}"
                start = time.perf_counter()
                subprocess.run(
                    [str(out) if a == "OUT" else a for a in command],
                    check=False,
                    capture_output=True,
                )
                best = min(best, time.perf_counter() - start)
                shutil.rmtree(out, ignore_errors=True)
            times[name] = best
        for name, seconds in times.items():
            print(
                f"| {name}, {label} ({count} files) | {seconds:.2f} "
                f"({times['dicognito'] / seconds:.2f}x dicognito's throughput) |"
            )


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


def screening_tables() -> None:
    """Detection rate on the drawn-text images, false positives on the clean ones, and
    what the candidate stage sends to the detector (``tests/drawn_text.py``: every
    variant of every base frame, every distinct clean frame)."""
    import random

    import numpy as np
    from drawn_text import clean_frames, frames, variants

    caught: dict[str, list[bool]] = {}
    kept: list[bool] = []
    clean: dict[str, list[bool]] = {}
    flagged: list[str] = []
    sent, areas = [], []
    candidate_seconds = total_seconds = 0.0
    count = 0
    drawn = [
        (f, kind, pixels) for f in frames() for kind, pixels in variants(f, random.Random(f.name))
    ]
    cleaned = [(f, "clean", f.pixels) for f in clean_frames()]
    for frame, kind, pixels in [*cleaned, *drawn]:
        start = time.process_time()
        values = text.grey(pixels)
        regions = text.candidate_regions(values, text.find_strokes(values))
        middle = time.process_time()
        screening = text.screen_frame(pixels)
        if kind != "clean":  # every stroke of the drawn text lies in what is sent
            change = np.abs(pixels.astype(np.float64) - frame.pixels)
            sent_mask = np.zeros(change.shape, bool)
            for top, bottom, left, right in regions:
                sent_mask[top:bottom, left:right] = True
            kept.append(bool(sent_mask[change > 0.5 * change.max()].all()))
        candidate_seconds += middle - start
        total_seconds += time.process_time() - middle
        count += 1
        if kind == "clean":
            clean.setdefault(f"{frame.modality} ({frame.source})", []).append(screening.text)
            if screening.text:
                flagged.append(frame.name)
            sent.append(screening.sent)
            areas.append(screening.area)
        else:
            caught.setdefault(kind, []).append(screening.text)
    print()
    print("| drawn text | caught |")
    print("|---|---:|")
    for kind, found in caught.items():
        print(f"| {kind} | {sum(found)}/{len(found)} |")
    everything = [f for found in caught.values() for f in found]
    print(
        f"| **all** | **{sum(everything)}/{len(everything)} "
        f"({100 * sum(everything) / len(everything):.1f}%)** |"
    )
    print()
    print(f"drawn texts the candidate stage sends whole to the detector: {sum(kept)}/{len(kept)}")
    print()
    print("| clean frames | flagged |")
    print("|---|---:|")
    for source in sorted(clean):
        print(f"| {source} | {sum(clean[source])}/{len(clean[source])} |")
    everything = [f for found in clean.values() for f in found]
    print(
        f"| **all** | **{sum(everything)}/{len(everything)} "
        f"({100 * sum(everything) / len(everything):.1f}%)** |"
    )
    print()
    print(f"clean frames flagged: {', '.join(flagged) or 'none'}")
    print()
    print(
        f"clean frames sent to the detector: {sum(sent)}/{len(sent)}, "
        f"mean share of their area sent: {100 * sum(areas) / len(areas):.0f}%; "
        f"per frame (CPU): candidate stage {1000 * candidate_seconds / count:.0f} ms, "
        f"whole screening {1000 * total_seconds / count:.0f} ms (mean of {count} frames)"
    )


def corpus_screening(folder: Path) -> None:
    """Per corpus file of one copy, in this process: decoding every frame, then the
    candidate stage and the whole screening of each decoded frame (CPU time of this
    process: other processes on the machine do not count)."""
    decoding = candidates = screening = 0.0
    frames = sent = 0
    area = everything = 0.0
    for decoded, seconds in decoded_files(folder):
        decoding += seconds
        for frame in decoded:
            start = time.process_time()
            values = text.grey(frame)
            text.candidate_regions(values, text.find_strokes(values))
            middle = time.process_time()
            result = text.screen_frame(frame)
            candidates += middle - start
            screening += time.process_time() - middle
            frames += 1
            sent += result.sent
            area += result.area * frame.shape[0] * frame.shape[1]
            everything += frame.shape[0] * frame.shape[1]
    print()
    print(f"| one copy of the corpus ({frames} frames), one process | CPU seconds |")
    print("|---|---:|")
    print(f"| decoding every frame | {decoding:.2f} |")
    print(f"| candidate stage, every frame | {candidates:.2f} |")
    print(f"| whole screening (candidate stage and detector) | {screening:.2f} |")
    print(f"| frames sent to the detector | {sent}/{frames} ({100 * sent / max(frames, 1):.0f}%) |")
    print(f"| share of the pixels sent to the detector | {100 * area / max(everything, 1):.0f}% |")
    floor(folder, decoding)


def decoded_files(folder: Path) -> Iterator[tuple[list[Any], float]]:
    """The decoded frames of each file in ``folder`` that has pixel data the pixel stage
    can decode (the others are not published: nothing to screen), with the CPU time of
    this process to decode them."""
    from archive_builder.pixels.frames import DecodeError, decode, pixel_dataset
    from archive_builder.pixels.review import _pixel_element

    for path in sorted(folder.iterdir()):
        ds = dcmread(path)
        element = _pixel_element(ds)
        if element is None:
            continue
        start = time.process_time()
        try:
            decoded = list(decode(pixel_dataset(ds, element, str(ds.file_meta.TransferSyntaxUID))))
        except DecodeError:
            continue
        yield decoded, time.process_time() - start


def decoding_seconds(folder: Path) -> float:
    """CPU time of this process to decode every frame of the files in ``folder``."""
    return sum(seconds for _, seconds in decoded_files(folder))


def floor(folder: Path, decoding: float) -> None:
    """The fastest any screening of every frame could be, beside dicognito: screening
    starts by decoding every frame, which dicognito never does. CPU time of this process
    for dicognito on the same copy (best of 3), against the decoding measured above."""
    files = sorted(folder.iterdir())
    best = float("inf")
    for _ in range(3):
        with tempfile.TemporaryDirectory(prefix="bench-floor-") as out:
            start = time.process_time()
            run_dicognito(files, Path(out))
            best = min(best, time.process_time() - start)
    cores = os.cpu_count() or 1
    print()
    print(f"| the floor of screening, one copy ({len(files)} files), one process | CPU seconds |")
    print("|---|---:|")
    print(f"| dicognito: read, de-identify, write every file | {best:.2f} |")
    print(f"| decoding every frame (the first step of any screening) | {decoding:.2f} |")
    print(
        f"| highest throughput vs dicognito of a tool that decodes every frame, "
        f"{cores} processes, nothing else counted | {cores * best / max(decoding, 1e-9):.2f}x |"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--min-files", type=int, default=150)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--screening-only", action="store_true", help="only the text-screening tables"
    )
    parser.add_argument(
        "--floor-only",
        action="store_true",
        help="only decoding every frame of one copy beside dicognito on it",
    )
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    logging.disable(logging.CRITICAL)
    if args.floor_only:
        with tempfile.TemporaryDirectory(prefix="bench-deid-") as scratch:
            build_corpus(Path(scratch) / "in", 1)
            floor(Path(scratch) / "in" / "r0", decoding_seconds(Path(scratch) / "in" / "r0"))
        return 0
    if args.screening_only:
        with tempfile.TemporaryDirectory(prefix="bench-deid-") as scratch:
            build_corpus(Path(scratch) / "in", 1)
            corpus_screening(Path(scratch) / "in" / "r0")
        screening_tables()
        return 0
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
                # each run screens from scratch (forked workers inherit what was screened)
                screened.results.clear()
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
        small = root / "small"
        small.mkdir()
        first = sorted((root / "in" / "r0").iterdir())
        for path in first:
            shutil.copy(path, small / path.name)
        processes_table(
            [("corpus", root / "in", len(files)), ("one copy", small, len(first))],
            root,
            args.repeat,
        )
        corpus_screening(small)
        screening_tables()
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
