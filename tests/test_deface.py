"""Defacing: every head volume published holds no face and an unchanged brain; what
cannot be defaced with a check is not published, and the rest of the study is.

The heads are the template's mean head moved by rigid and affine transforms,
cropped, with noise and a bias field, written as DICOM CT (HU, with a skull)
and MR (one file per slice, and one enhanced multi-frame file) in axial,
coronal and sagittal acquisitions (``archive_builder.demo_heads``).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import run_cli, sample
from fsaverage_head import fsaverage_head
from pydicom import dcmread
from pydicom.dataset import Dataset

from archive_builder.demo_heads import Head, make_head, rotation, write_series
from archive_builder.pixels.deface import background, deface, verify
from archive_builder.pixels.faces import face_seen, physical, top_value
from archive_builder.pixels.heads import review_head_series
from archive_builder.pixels.volume import read_volume
from archive_builder.pixels.wording import (
    FACE_REGION_LEFT,
    FAILED,
    NO_FIT,
    NO_FIT_HEAD,
    NO_STORED_AIR,
    SMALL_HEAD,
)

STUDY_FILE = sample("CT_small.dcm")  # the patient and study; also published on its own


def _pose(rng: np.random.Generator, affine: bool) -> np.ndarray:
    pose = np.eye(4)
    for axis in range(3):
        pose = pose @ rotation(axis, rng.uniform(-12, 12))
    if affine:
        pose[:3, :3] = pose[:3, :3] @ np.diag(rng.uniform(0.92, 1.08, 3))
        pose[0, 1] += rng.uniform(-0.04, 0.04)
    pose[:3, 3] = rng.uniform(-10, 10, 3)
    return pose


def _noisy(head: Head, rng: np.random.Generator) -> Head:
    """Noise and (for MR) a smooth bias field, as scanners give."""
    shape = head.values.shape
    if head.modality == "MR":
        axes = np.meshgrid(*(np.linspace(-1, 1, n) for n in shape), indexing="ij")
        bias = 1 + 0.15 * axes[0] - 0.1 * axes[2] + 0.05 * axes[1] * axes[0]
        head.values = np.clip(head.values * bias + rng.normal(0, 12, shape), 0, None)
    else:
        head.values = head.values + rng.normal(0, 8, shape)
    return head


# (name, modality, plane, enhanced, affine pose, extent in mm: rows, columns, slices)
CASES = [
    ("mr-axial", "MR", "axial", False, False, (200.0, 240.0, 230.0)),
    ("ct-coronal-cropped", "CT", "coronal", False, True, (190.0, 200.0, 170.0)),
    ("mr-sagittal-enhanced", "MR", "sagittal", True, True, (230.0, 200.0, 190.0)),
]


@pytest.fixture(scope="module")
def heads(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Head]]:
    """One study: the test heads, a non-head volume, bad series, and CT_small."""
    root = tmp_path_factory.mktemp("heads") / "in"
    header = dcmread(STUDY_FILE)
    rng = np.random.default_rng(20261202)
    made: dict[str, Head] = {}
    for name, modality, plane, enhanced, affine, extent in CASES:
        head = make_head(modality, plane, 3.5, extent, _pose(rng, affine), rng.uniform(-8, 8, 3))
        made[name] = head = _noisy(head, rng)
        write_series(head, root / name, header, enhanced=enhanced)
    shutil.copy(STUDY_FILE, root / "ct-small.dcm")
    return root, made


def _series_by_geometry(out: Path) -> list[list[Dataset]]:
    groups: dict[str, list[Dataset]] = {}
    for path in sorted(out.rglob("*.dcm")):
        ds = dcmread(path)
        groups.setdefault(path.parent.name, []).append(ds)
    return list(groups.values())


def _published_slices(out: Path) -> dict[tuple[float, ...], tuple[Dataset, np.ndarray]]:
    """Every published slice by its position (text screening may hold back a slice)."""
    slices = {}
    for path in sorted(out.rglob("*.dcm")):
        ds = dcmread(path)
        frames = ds.pixel_array.reshape((-1, ds.Rows, ds.Columns))
        positions = [
            item.PlanePositionSequence[0].ImagePositionPatient
            for item in ds.get("PerFrameFunctionalGroupsSequence", [])
        ] or [ds.ImagePositionPatient]
        for position, frame in zip(positions, frames, strict=True):
            slices[tuple(round(float(v), 2) for v in position)] = (ds, frame)
    return slices


def _run_deid(root: Path, tmp_path: Path) -> tuple[Path, dict[str, object]]:
    out = tmp_path / "out"
    result = run_cli("deid", root, out, "--key-file", tmp_path / "key" / "deid.key")
    assert result.exit_code == 0, result.output
    (report_path,) = out.rglob("deid-report.json")
    return report_path.parent, json.loads(report_path.read_text())


def test_every_head_volume_is_published_without_its_face_and_with_its_brain_unchanged(
    heads: tuple[Path, dict[str, Head]], tmp_path: Path
) -> None:
    root, made = heads
    study, report = _run_deid(root, tmp_path)
    published = _published_slices(study)
    for name, head in made.items():
        original = read_volume([dcmread(p) for p in sorted((root / name).glob("*.dcm"))])
        air = np.broadcast_to(original.air()[:, None, None], original.stored.shape)
        output = original.stored.copy()
        found = np.zeros(len(output), bool)
        files = []
        for index in range(len(output)):
            position = original.affine @ np.array([0.0, 0.0, index, 1.0])
            key = tuple(round(float(v), 2) for v in position[:3])
            if key in published:
                ds, output[index] = published[key]
                found[index] = True
                files.append(ds)
        assert found.mean() > 0.95, name
        face = head.face & found[:, None, None]
        tissue_before = face & ~background(original)
        tissue_after = face & ~background(original, output)
        assert tissue_before.sum() > 3000, name  # the face was there
        assert tissue_after.sum() <= 0.01 * tissue_before.sum(), name
        assert np.array_equal(output[head.brain], original.stored[head.brain]), name
        # the detectors see the face of the whole heads (the cropped one may be inconclusive)
        assert face_seen(original, physical(original)) or "cropped" in name, name
        output[~found] = air[~found]
        assert not face_seen(original, physical(original, output)), name
        for ds in files:  # each published file says it was defaced
            assert ds.RecognizableVisualFeatures == "NO"
            codes = [item.CodeValue for item in ds.DeidentificationMethodCodeSequence]
            assert "113102" in codes
            assert ds.file_meta.TransferSyntaxUID == "1.2.840.10008.1.2.1"
    defaced = report["pixels"]["series_defaced"]  # type: ignore[index]
    assert len(defaced) == len(CASES)
    assert all("brain region is unchanged" in s["defacing"] for s in defaced)


def _bad_series(root: Path) -> None:
    header = dcmread(STUDY_FILE)
    head = make_head("MR", "axial", 5.0, (200.0, 240.0, 230.0))
    gap = root / "gap"
    write_series(head, gap, header)
    (gap / "slice-0020.dcm").unlink()
    mixed = root / "mixed"
    write_series(head, mixed, header)
    odd = make_head("MR", "axial", 4.0, (200.0, 240.0, 230.0))
    write_series(odd, root / "odd", header)
    series_uid = dcmread(mixed / "slice-0000.dcm").SeriesInstanceUID
    for path in sorted((root / "odd").glob("*.dcm"))[:5]:
        ds = dcmread(path)
        ds.SeriesInstanceUID = series_uid
        ds.save_as(mixed / f"odd-{path.name}")
    shutil.rmtree(root / "odd")
    few = make_head("MR", "sagittal", 5.0, (230.0, 200.0, 15.0))
    for path in write_series(few, root / "few", header):
        ds = dcmread(path)
        ds.BodyPartExamined = "HEAD"
        ds.save_as(path)
    shutil.copy(STUDY_FILE, root / "ct-small.dcm")


def test_series_that_cannot_be_defaced_are_not_published_and_the_rest_of_the_study_is(
    tmp_path: Path,
) -> None:
    root = tmp_path / "in"
    _bad_series(root)
    study, report = _run_deid(root, tmp_path)
    reasons = [e["reason"] for e in report["instances"]["excluded"]]  # type: ignore[index]
    assert any("not evenly spaced" in r for r in reasons)
    assert any("differ in size" in r for r in reasons)
    assert any("sagittal or coronal image of the head" in r for r in reasons)
    published = [dcmread(p) for p in study.rglob("*.dcm")]
    assert len(published) == 1 and published[0].Rows == 128  # CT_small alone


def test_a_volume_that_is_no_head_is_published_unchanged(tmp_path: Path) -> None:
    """A cylinder (a limb, a phantom) fits no head template: nothing is removed."""
    root = tmp_path / "in"
    head = make_head("CT", "axial", 5.0, (200.0, 200.0, 150.0))
    z, y, x = np.meshgrid(*(np.arange(n) for n in head.values.shape), indexing="ij")
    cylinder = (y - 20) ** 2 + (x - 20) ** 2 < 15**2
    head.values = np.where(cylinder, 40.0 + (z % 5), -1000.0)
    write_series(head, root / "cylinder", dcmread(STUDY_FILE))
    study, report = _run_deid(root, tmp_path)
    assert report["pixels"]["series_defaced"] == []  # type: ignore[index]
    (series,) = _series_by_geometry(study)
    assert np.array_equal(read_volume(series).stored, np.clip(head.values + 1024, 0, 4095))


def test_a_head_that_is_not_the_template_keeps_its_brain_and_shows_no_face(tmp_path: Path) -> None:
    """FreeSurfer's fsaverage head (from ``mne``): it is defaced with its brain (the
    inside of its inner skull) bit-identical and no face left, or, when the template
    cannot be fitted to it with confidence, not published, with the reason."""
    root = tmp_path / "in"
    head = fsaverage_head(3.5)
    write_series(head, root / "fsaverage", dcmread(STUDY_FILE))
    shutil.copy(STUDY_FILE, root / "ct-small.dcm")
    original = read_volume([dcmread(p) for p in sorted((root / "fsaverage").glob("*.dcm"))])
    study, report = _run_deid(root, tmp_path)
    published = _published_slices(study)
    reasons = {e["reason"] for e in report["instances"]["excluded"]}  # type: ignore[index]
    if report["pixels"]["series_defaced"]:  # type: ignore[index]
        output = original.stored.copy()
        for index in range(len(output)):
            position = original.affine @ np.array([0.0, 0.0, index, 1.0])
            output[index] = published[tuple(round(float(v), 2) for v in position[:3])][1]
        assert np.array_equal(output[head.brain], original.stored[head.brain])
        assert not np.array_equal(output, original.stored)
        assert not face_seen(original, physical(original, output))
    else:
        assert reasons <= {NO_FIT, NO_FIT_HEAD}
        assert len(published) == 1  # CT_small: the rest of the study is published


def _labelled(paths: list[Path], **values: object) -> None:
    for path in paths:
        ds = dcmread(path)
        for keyword, value in values.items():
            setattr(ds, keyword, value)
        ds.save_as(path)


def test_what_cannot_be_shown_to_hold_no_face_is_not_published(tmp_path: Path) -> None:
    """Fail closed (a red team's cases): a few thick axial slices of the head (too few
    to fit the template, a face in 3D all the same); a series labelled as the head that
    the template cannot be fitted to (a head cradle, a cut nose tip: the detectors may
    miss its face); a series on which defacing fails (a pixel spacing of 0). Each is
    not published, with a fixed reason, and the rest of the study is."""
    root = tmp_path / "in"
    header = dcmread(STUDY_FILE)
    few = make_head("MR", "axial", (2.5, 2.5, 8.0), (200.0, 240.0, 120.0))
    _labelled(write_series(few, root / "few", header), BodyPartExamined="HEAD")
    shape = make_head("CT", "axial", 5.0, (200.0, 200.0, 150.0))
    z, y, x = np.meshgrid(*(np.arange(n) for n in shape.values.shape), indexing="ij")
    shape.values = np.where((y - 20) ** 2 + (x - 20) ** 2 < 15**2, 40.0 + (z % 5), -1000.0)
    _labelled(write_series(shape, root / "unfitted", header), SeriesDescription="CT HEAD")
    broken = make_head("CT", "axial", 5.0, (200.0, 240.0, 230.0))
    _labelled(write_series(broken, root / "broken", header), PixelSpacing=[0, 0])
    shutil.copy(STUDY_FILE, root / "ct-small.dcm")
    study, report = _run_deid(root, tmp_path)
    reasons = [e["reason"] for e in report["instances"]["excluded"]]  # type: ignore[index]
    assert sum("a few slices of the head" in r for r in reasons) == len(few.values)
    assert reasons.count(NO_FIT_HEAD) == len(shape.values)
    assert reasons.count(FAILED) == len(broken.values), sorted(set(reasons))
    published = [dcmread(p) for p in study.rglob("*.dcm")]
    assert len(published) == 1 and published[0].Rows == 128  # CT_small alone


def test_the_check_covers_the_whole_face_region_not_only_what_defacing_set(
    tmp_path: Path,
) -> None:
    """Tissue in the registered face region where the input was air (so defacing set
    nothing there) fails the geometric check: it looks at the output, not at the mask."""
    from scipy import ndimage

    head = make_head("MR", "axial", 3.5, (200.0, 240.0, 230.0))
    volume = read_volume([dcmread(p) for p in write_series(head, tmp_path / "mr")])
    result = deface(volume)
    assert result.stored is not None and result.face is not None
    assert verify(volume, result, result.stored) is None
    written = result.stored.copy()
    inside = ndimage.binary_erosion(head.face, iterations=3)  # well inside the face region
    untouched = np.argwhere(inside & ~result.face)  # air in the input: defacing set nothing
    assert len(untouched) > 100
    written[tuple(untouched[len(untouched) // 2])] = round(0.5 * top_value(volume))
    assert verify(volume, result, written) == FACE_REGION_LEFT  # one voxel of tissue


def _recoded(paths: list[Path], intercept: float, signed: bool) -> None:
    """Rewrite a CT series as 12 bits stored in 16 (signed or not) with ``intercept``,
    clipping what the 12 bits cannot hold, as a scanner does."""
    low, high = (-2048, 2047) if signed else (0, 4095)
    for path in paths:
        ds = dcmread(path)
        hu = ds.pixel_array.astype(float) - 1024
        values = np.clip(np.round(hu - intercept), low, high)
        ds.PixelRepresentation = int(signed)
        ds.RescaleIntercept = intercept
        ds.PixelData = values.astype("<i2" if signed else "<u2").tobytes()
        ds.save_as(path)


@pytest.mark.parametrize(("intercept", "signed"), [(-1024.0, False), (1200.0, True)])
def test_the_air_written_is_air_within_bits_stored(
    tmp_path: Path, intercept: float, signed: bool
) -> None:
    """12 bits stored in 16: what defacing writes fits the 12 bits and is air under the
    rescale; a CT whose 12 bits cannot hold air (signed, intercept +1200: -848 HU at
    the lowest) is not published, with the reason."""
    head = make_head("CT", "axial", 3.5, (200.0, 240.0, 230.0))
    paths = write_series(head, tmp_path / "ct")
    _recoded(paths, intercept, signed)
    original = read_volume([dcmread(p) for p in paths])
    decisions = review_head_series([None] * len(paths), paths)
    low, high = (-2048, 2047) if signed else (0, 4095)
    if decisions[0][1] is None:
        assert {d[0] for d in decisions} == {NO_STORED_AIR}
        assert signed  # the usual coding (unsigned, -1024) is defaced
        return
    dtype = "<i2" if signed else "<u2"
    frames = {
        path: np.frombuffer(pixel.value, dtype).reshape(original.stored.shape[1:])
        for path, (_, pixel, _) in zip(paths, decisions, strict=True)
        if pixel is not None
    }
    output = np.stack([frames[paths[i]] for i, _ in original.places])
    assert low <= int(output.min()) and int(output.max()) <= high
    face = head.face & ~background(original)
    assert face.sum() > 3000
    assert np.all(output[face].astype(float) + intercept <= -1000.0)


def test_a_childs_head_is_not_published_with_its_face(tmp_path: Path) -> None:
    """A head 0.7 times the template's across (a young child's), with no label: it is
    fitted (the registration allows it), then held back with the reason, never published
    with its face."""
    head = make_head("MR", "axial", 3.5, (200.0, 240.0, 230.0), np.diag([0.7, 0.7, 0.7, 1.0]))
    paths = write_series(head, tmp_path / "child")
    decisions = review_head_series([None] * len(paths), paths)
    assert {d[0] for d in decisions} == {SMALL_HEAD}
    assert all(d[1] is None for d in decisions)


def test_the_demo_publishes_its_head_ct_and_brain_mr_defaced_and_says_so(
    demo_archive: Path,
) -> None:
    """The demo's head CT and brain MR donations each hold a head volume: it is published
    defaced (marked so in every file), and the donation page lists it as defaced."""
    volumes = 0
    for folder in sorted((demo_archive / "datasets").glob("don-*")):
        record = json.loads((folder / "donation.json").read_text())
        if record["study"]["anatomical_region"] not in ("HEAD", "BRAIN"):
            continue
        instances = json.loads((folder / "instances.json").read_text())
        counts: dict[str, int] = {}
        for entry in instances:
            if entry["Modality"] in ("CT", "MR"):
                series = entry["path"].split("/")[0]
                counts[series] = counts.get(series, 0) + 1
        heads = sorted(series for series, count in counts.items() if count >= 20)
        if not heads:
            continue  # a head study of single images (pydicom's own files): no volume
        volumes += len(heads)
        report = json.loads((folder / "deid-report.json").read_text())
        defaced = {entry["series"] for entry in report["pixels"]["series_defaced"]}
        assert set(heads) <= defaced, (folder.name, heads, defaced)
        page = (demo_archive / "site" / "datasets" / folder.name / "index.html").read_text()
        assert "Series published defaced" in page
        for series in heads:
            assert f"<code>{series}</code>" in page
            first = sorted((folder / series).iterdir())[0]
            header = dcmread(first, stop_before_pixels=True)
            assert header.RecognizableVisualFeatures == "NO"
            codes = {item.CodeValue for item in header.DeidentificationMethodCodeSequence}
            assert "113102" in codes  # Clean Recognizable Visual Features Option
    assert volumes == 2  # the head CT's and the brain MR's
