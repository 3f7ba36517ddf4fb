"""Head volumes made from the defacing template (pydeface's mean head), written as DICOM
CT or MR series: the demo's head donations carry one, and the tests move, crop and
blur them to check defacing on heads it has not seen in that pose.

Real heads are not in pydicom's test data; the mean head shows a face in a
render, as a donor's scan does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence as DicomSequence
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

from .pixels.template import load_template

# Row direction, column direction (DICOM Image Orientation), for each acquisition plane.
PLANES = {
    "axial": ((1.0, 0.0, 0.0), (0.0, 1.0, 0.0)),
    "coronal": ((1.0, 0.0, 0.0), (0.0, 0.0, -1.0)),
    "sagittal": ((0.0, 1.0, 0.0), (0.0, 0.0, -1.0)),
}
CT_IMAGE, MR_IMAGE = "1.2.840.10008.5.1.4.1.1.2", "1.2.840.10008.5.1.4.1.1.4"
ENHANCED_MR = "1.2.840.10008.5.1.4.1.1.4.1"


@dataclass
class Head:
    """A head volume on its own grid: values (slice, row, column) in HU (CT) or signal
    (MR), where its voxels are, and the template's regions carried onto them."""

    values: np.ndarray
    affine: np.ndarray  # (column, row, slice, 1) -> LPS mm
    brain: np.ndarray  # bool
    face: np.ndarray  # bool: the region defacing must set to air
    modality: str


def _grid(
    plane: str, spacing: Sequence[float], extent: Sequence[float], centre: np.ndarray
) -> tuple[list[int], np.ndarray]:
    row, column = (np.array(v) for v in PLANES[plane])
    normal = np.cross(row, column)
    shape = [round(e / s) for e, s in zip(extent, spacing, strict=True)]  # columns, rows, slices
    affine = np.eye(4)
    affine[:3, 0], affine[:3, 1] = row * spacing[0], column * spacing[1]
    affine[:3, 2] = normal * spacing[2]
    affine[:3, 3] = centre - affine[:3, :3] @ (np.array(shape) - 1) / 2
    return shape, affine


def rotation(axis: int, degrees: float) -> np.ndarray:
    """A 4x4 rotation by ``degrees`` about axis 0, 1 or 2 (to pose a test head)."""
    angle = np.radians(degrees)
    c, s = np.cos(angle), np.sin(angle)
    i, j = [(1, 2), (0, 2), (0, 1)][axis]
    matrix = np.eye(4)
    matrix[i, i] = matrix[j, j] = c
    matrix[i, j], matrix[j, i] = -s, s
    return matrix


def make_head(
    modality: str = "MR",
    plane: str = "axial",
    spacing: float | Sequence[float] = 2.5,
    extent: Sequence[float] = (200.0, 240.0, 230.0),
    pose: np.ndarray | None = None,
    shift: Sequence[float] = (0.0, 0.0, 0.0),
) -> Head:
    """The template head resampled onto a new grid (``extent`` and ``spacing`` in mm
    along the rows, columns and slices of ``plane``), moved by ``pose`` (a 4x4 matrix in
    LPS mm, about the head's centre), with a skull for CT."""
    from scipy import ndimage

    template = load_template()
    pose = np.eye(4) if pose is None else pose
    steps = [float(spacing)] * 3 if isinstance(spacing, int | float) else list(spacing)
    centre = template.affine[:3, :3] @ (np.array(template.head.shape) - 1) / 2
    centre = centre + template.affine[:3, 3]
    shape, affine = _grid(plane, steps, extent, centre + np.asarray(shift))
    about = np.eye(4)
    about[:3, 3] = centre
    to_template = (
        np.linalg.inv(template.affine) @ about @ np.linalg.inv(pose) @ np.linalg.inv(about)
    )
    skull = ndimage.binary_dilation(template.brain, iterations=3) & ~template.brain
    sources = tuple(
        a.astype(np.float32) for a in (template.head, template.brain, template.face, skull)
    )
    planes: list[list[np.ndarray]] = [[], [], [], []]
    rows, columns = np.meshgrid(np.arange(shape[1]), np.arange(shape[0]), indexing="ij")
    for index in range(shape[2]):  # a slice at a time: a 512x512x300 grid fits in memory
        points = np.stack([columns, rows, np.full_like(rows, index), np.ones_like(rows)])
        where = (to_template @ affine @ points.reshape(4, -1))[:3]
        for number, (found, source) in enumerate(zip(planes, sources, strict=True)):
            sampled = ndimage.map_coordinates(source, where, order=1 if number == 0 else 0)
            found.append(sampled.reshape(rows.shape))
    head, brain, face, bone = (np.stack(p) for p in planes)
    brain, face, bone = brain > 0.5, face > 0.5, bone > 0.5
    if modality == "CT":
        values = np.where(head > 15, 40.0, -1000.0)
        values[brain & (head > 15)] = 30.0
        values[bone & (head > 15)] = 1000.0
    else:
        values = head * 4.0
    return Head(values, affine, brain, face, modality)


def stored_values(head: Head) -> tuple[np.ndarray, float]:
    """(stored uint16 values, rescale intercept): CT as 12-bit HU + 1024, MR as is."""
    if head.modality == "CT":
        return np.clip(np.round(head.values + 1024), 0, 4095).astype(np.uint16), -1024.0
    return np.clip(np.round(head.values), 0, 65535).astype(np.uint16), 0.0


def _uid(seed: str | None, *parts: str) -> str:
    """A new UID: random, or made from ``seed`` (the demo's are the same every run)."""
    return str(generate_uid(entropy_srcs=[seed, *parts]) if seed else generate_uid())


def _base(header: Dataset | None, sop_class: str, modality: str, seed: str | None) -> Dataset:
    ds = Dataset()
    if header is not None:  # the patient and study of a donation's own file
        for keyword in (
            "PatientName",
            "PatientID",
            "PatientBirthDate",
            "PatientSex",
            "StudyInstanceUID",
            "StudyDate",
            "StudyTime",
            "StudyID",
            "AccessionNumber",
            "ReferringPhysicianName",
            "InstitutionName",
        ):
            if keyword in header:
                setattr(ds, keyword, header.get(keyword))
    else:
        ds.PatientName, ds.PatientID = "Head^Test", "HEAD-0001"
        ds.StudyInstanceUID = _uid(seed, "study")
        ds.StudyDate = "20260101"
    ds.SOPClassUID, ds.Modality = sop_class, modality
    ds.SeriesInstanceUID = _uid(seed, "series")
    ds.SeriesNumber = 90
    ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL" if modality == "CT" else "OTHER"]
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.PixelRepresentation = 16, 0
    ds.BitsStored = ds.HighBit = 0
    ds.FrameOfReferenceUID = _uid(seed, "frame of reference")
    return ds


def _finish(ds: Dataset, path: Path) -> None:
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True)


def _geometry(head: Head, index: int) -> tuple[list[float], list[float], list[float]]:
    spacing = np.linalg.norm(head.affine[:3, :3], axis=0)
    orientation = [*(head.affine[:3, 0] / spacing[0]), *(head.affine[:3, 1] / spacing[1])]
    position = head.affine[:3, :3] @ np.array([0.0, 0.0, index]) + head.affine[:3, 3]
    return (
        [round(float(v), 6) for v in position],
        [round(float(v), 6) for v in orientation],
        [round(float(spacing[1]), 6), round(float(spacing[0]), 6)],
    )


def write_series(
    head: Head,
    folder: Path,
    header: Dataset | None = None,
    enhanced: bool = False,
    seed: str | None = None,
) -> list[Path]:
    """Write ``head`` as a DICOM series into ``folder`` (one file per slice, or one
    enhanced MR file); ``header`` gives the patient and study, ``seed`` the UIDs (random
    without one)."""
    stored, intercept = stored_values(head)
    bits = 12 if head.modality == "CT" else 16
    if enhanced:
        return [_write_enhanced(head, stored, folder, header, seed)]
    sop_class = CT_IMAGE if head.modality == "CT" else MR_IMAGE
    series = _base(header, sop_class, head.modality, seed)
    paths = []
    for index, plane in enumerate(stored):
        ds = Dataset()
        ds.update(series)
        ds.SOPInstanceUID = _uid(seed, "instance", str(index))
        ds.InstanceNumber = index + 1
        position, orientation, spacing = _geometry(head, index)
        ds.ImagePositionPatient, ds.ImageOrientationPatient = position, orientation
        ds.PixelSpacing = spacing
        ds.SliceThickness = round(float(np.linalg.norm(head.affine[:3, 2])), 6)
        ds.Rows, ds.Columns = plane.shape
        ds.BitsStored, ds.HighBit = bits, bits - 1
        if head.modality == "CT":
            ds.RescaleIntercept, ds.RescaleSlope = intercept, 1
        ds.PixelData = plane.tobytes()
        path = folder / f"slice-{index:04d}.dcm"
        _finish(ds, path)
        paths.append(path)
    return paths


def _write_enhanced(
    head: Head, stored: np.ndarray, folder: Path, header: Dataset | None, seed: str | None
) -> Path:
    ds = _base(header, ENHANCED_MR, "MR", seed)
    ds.SOPInstanceUID = _uid(seed, "instance")
    ds.InstanceNumber = 1
    ds.BitsStored, ds.HighBit = 16, 15
    ds.Rows, ds.Columns = stored.shape[1:]
    ds.NumberOfFrames = len(stored)
    _, orientation, spacing = _geometry(head, 0)
    measures = Dataset()
    measures.PixelSpacing = spacing
    measures.SliceThickness = round(float(np.linalg.norm(head.affine[:3, 2])), 6)
    plane = Dataset()
    plane.ImageOrientationPatient = orientation
    shared = Dataset()
    shared.PixelMeasuresSequence = DicomSequence([measures])
    shared.PlaneOrientationSequence = DicomSequence([plane])
    ds.SharedFunctionalGroupsSequence = DicomSequence([shared])
    frames = []
    for index in range(len(stored)):
        position = Dataset()
        position.ImagePositionPatient = _geometry(head, index)[0]
        frame = Dataset()
        frame.PlanePositionSequence = DicomSequence([position])
        frames.append(frame)
    ds.PerFrameFunctionalGroupsSequence = DicomSequence(frames)
    ds.PixelData = stored.tobytes()
    path = folder / "enhanced.dcm"
    _finish(ds, path)
    return path
