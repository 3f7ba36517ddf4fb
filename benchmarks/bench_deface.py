"""Defacing benchmark: seconds per head volume, and the share of test heads verified clean.

    .venv/bin/python benchmarks/bench_deface.py [--heads 8] [--quick]

1. Time per volume, on a 256x256x180 MR and a 512x512x300 CT (one file per
   slice, made from the template's mean head): reading and writing the series
   without defacing (the baseline), and the pixel stage's defacing with its
   checks (``pixels.heads.review_head_series``: read, register, deface, the
   geometric and detector checks on the pixel data as written). Target: at
   most 20 s per volume.
2. Test heads: the mean head moved by random rigid and affine transforms, in
   axial, coronal and sagittal acquisitions, CT and MR, at 3 mm. For each: was
   it defaced and verified, how much face tissue is left (target 0), how many
   brain voxels changed (target 0), and whether a detector still sees a face in
   the published pixels (target never).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from archive_builder.demo_heads import make_head, rotation, write_series
from archive_builder.pixels.deface import background
from archive_builder.pixels.faces import face_seen, physical
from archive_builder.pixels.heads import review_head_series
from archive_builder.pixels.volume import read_volume


def _read_write(paths: list[Path], out: Path) -> float:
    from pydicom import dcmread

    start = time.perf_counter()
    out.mkdir()
    for path in paths:
        ds = dcmread(path)
        _ = ds.pixel_array
        ds.save_as(out / path.name)
    return time.perf_counter() - start


def _deface(paths: list[Path]) -> tuple[float, list[tuple[str | None, object, str | None]]]:
    start = time.perf_counter()
    decisions = review_head_series([None] * len(paths), paths)
    return time.perf_counter() - start, decisions  # type: ignore[return-value]


def timing(work: Path, quick: bool) -> None:
    sizes = [
        ("MR 256x256x180", "MR", (1.0, 1.0, 1.0), (256.0, 256.0, 180.0)),
        ("CT 512x512x300", "CT", (0.5, 0.5, 0.6), (256.0, 256.0, 180.0)),
    ]
    if quick:
        sizes = [(n, m, tuple(s * 2 for s in sp), e) for n, m, sp, e in sizes]
    print("| volume | read + write (s) | deface + checks (s) | outcome |")
    print("| --- | ---: | ---: | --- |")
    for name, modality, spacing, extent in sizes:
        folder = work / name.replace(" ", "-")
        paths = write_series(make_head(modality, "axial", spacing, extent), folder)
        baseline = _read_write(paths, work / f"{folder.name}-copy")
        seconds, decisions = _deface(paths)
        excluded, pixel, _ = decisions[0]
        outcome = excluded or ("defaced and verified" if pixel is not None else "unchanged")
        print(f"| {name} | {baseline:.1f} | {seconds:.1f} | {outcome} |")


def test_heads(work: Path, count: int) -> None:
    from pydicom import dcmread

    rng = np.random.default_rng(7)
    clean = 0
    print()
    print("| head | defaced and verified | face tissue left | brain voxels changed | face seen |")
    print("| --- | --- | ---: | ---: | --- |")
    for number in range(count):
        modality = ("MR", "CT")[number % 2]
        plane = ("axial", "coronal", "sagittal")[number % 3]
        pose = np.eye(4)
        for axis in range(3):
            pose = pose @ rotation(axis, rng.uniform(-15, 15))
        pose[:3, :3] = pose[:3, :3] @ np.diag(rng.uniform(0.9, 1.1, 3))
        pose[:3, 3] = rng.uniform(-15, 15, 3)
        head = make_head(modality, plane, 3.0, (210.0, 240.0, 230.0), pose)
        head.values = head.values + rng.normal(0, 8, head.values.shape)
        folder = work / f"head-{number}"
        paths = write_series(head, folder)
        _, decisions = _deface(paths)
        original = read_volume([dcmread(p) for p in paths])
        excluded, pixel, _ = decisions[0]
        if excluded or pixel is None:
            print(f"| {number} {modality} {plane} | no: {excluded or 'unchanged'} | | | |")
            continue
        frames = [
            np.frombuffer(d[1].value, "<u2").reshape(original.stored.shape[1:]) for d in decisions
        ]  # type: ignore[union-attr]
        by_file = dict(zip(sorted(paths), frames, strict=True))
        output = np.stack([by_file[paths[i]] for i, _ in original.places])
        tissue = head.face & ~background(original)
        left = int((tissue & ~background(original, output)).sum())
        changed = int((output[head.brain] != original.stored[head.brain]).sum())
        seen = face_seen(original, physical(original, output))
        clean += left <= 0.01 * tissue.sum() and changed == 0 and not seen
        share = left / max(1, int(tissue.sum()))
        print(f"| {number} {modality} {plane} | yes | {share:.2%} | {changed} | {seen} |")
    print(f"\n{clean} of {count} test heads verified clean")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--heads", type=int, default=8)
    parser.add_argument("--quick", action="store_true", help="half-resolution volumes")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        timing(Path(folder), args.quick)
        test_heads(Path(folder), args.heads)


if __name__ == "__main__":
    main()
