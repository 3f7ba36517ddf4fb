"""A CT or MR series as one volume: its voxels, where they are, and where each slice
came from (which instance, which frame).

Classic series (one file per slice) and enhanced multi-frame files both. A
series that does not stack into one evenly spaced volume raises NotAVolume
with a fixed reason: nothing is guessed about a volume with gaps, tilted or
odd-sized slices.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from pydicom.dataset import Dataset

HEAD_MODALITIES = frozenset({"CT", "MR"})
MIN_SLICES = 20  # fewer: a localizer, a scout or a few slices, not a volume
_CT_CLASSES = ("1.2.840.10008.5.1.4.1.1.2",)  # CT, enhanced CT (prefix)
_MR_CLASSES = ("1.2.840.10008.5.1.4.1.1.4",)  # MR, enhanced MR (prefix)


class NotAVolume(ValueError):
    """The series does not stack into one volume; the message is a fixed text."""


@dataclass
class Volume:
    """Stored values (slices, rows, columns) and their geometry."""

    stored: np.ndarray
    affine: np.ndarray  # (column, row, slice, 1) -> patient coordinates (LPS, mm)
    places: list[tuple[int, int]]  # per slice: (instance, frame)
    modality: str  # CT or MR
    slope: np.ndarray  # per slice: Rescale Slope (1 for MR without one)
    intercept: np.ndarray
    bits_stored: int = 16  # Bits Stored: the values a pixel may hold, with
    signed: bool = False  # Pixel Representation (two's complement when signed)

    @property
    def spacing(self) -> tuple[float, float, float]:
        """Column, row and slice spacing in mm."""
        norms = np.linalg.norm(self.affine[:3, :3], axis=0)
        return float(norms[0]), float(norms[1]), float(norms[2])

    def stored_range(self) -> tuple[int, int]:
        """The lowest and highest value a pixel may hold: Bits Stored and Pixel
        Representation, within the type the values are decoded to."""
        info = np.iinfo(self.stored.dtype)
        bits = min(max(int(self.bits_stored), 1), info.bits)
        low, high = (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1) if self.signed else (0, 2**bits - 1)
        return max(low, int(info.min)), min(high, int(info.max))

    def air(self) -> np.ndarray:
        """Per slice, the stored value of air: -1000 HU for CT, 0 for MR, clipped to what
        Bits Stored and Pixel Representation allow (a clipped CT value may not be air:
        ``deface`` checks it)."""
        low, high = self.stored_range()
        if self.modality != "CT":
            return np.full(len(self.places), float(np.clip(0, low, high)))
        values = np.round((-1000.0 - self.intercept) / self.slope)
        return np.asarray(np.clip(values, low, high))


def modality_of(header: Dataset) -> str:
    """CT, MR, or '' for any other series (from Modality, else the SOP class)."""
    modality = str(header.get("Modality", "") or "").strip().upper()
    if modality in HEAD_MODALITIES:
        return modality
    sop_class = str(header.get("SOPClassUID", "") or "")
    for prefix, name in ((_CT_CLASSES[0], "CT"), (_MR_CLASSES[0], "MR")):
        if sop_class == prefix or sop_class.startswith(prefix + "."):
            return name
    return ""


def _floats(value: object, count: int) -> np.ndarray:
    try:
        numbers = np.array([float(v) for v in value])  # type: ignore[attr-defined]
    except (TypeError, ValueError):
        raise NotAVolume("its slices have no readable position or orientation") from None
    if numbers.shape != (count,) or not np.all(np.isfinite(numbers)):
        raise NotAVolume("its slices have no readable position or orientation")
    return numbers


def _first(ds: Dataset, *path: str) -> Dataset | None:
    """The first item at the end of a chain of sequences, or None."""
    item: Dataset | None = ds
    for keyword in path:
        if item is None or not item.get(keyword):
            return None
        item = item.get(keyword)[0]
    return item


@dataclass(frozen=True)
class _Slice:
    instance: int
    frame: int
    position: np.ndarray
    orientation: np.ndarray
    spacing: np.ndarray
    shape: tuple[int, int]
    slope: float
    intercept: float


def _frame_geometry(ds: Dataset, frame_item: Dataset | None) -> tuple[Dataset, Dataset, Dataset]:
    """(position, orientation, measures) items of one frame: from the per-frame group,
    else the shared one, else the top level (classic files)."""
    shared = _first(ds, "SharedFunctionalGroupsSequence")

    def find(sequence: str) -> Dataset:
        for group in (frame_item, shared):
            item = _first(group, sequence) if group is not None else None
            if item is not None:
                return item
        return ds

    return (
        find("PlanePositionSequence"),
        find("PlaneOrientationSequence"),
        find("PixelMeasuresSequence"),
    )


def _rescale(ds: Dataset, frame_item: Dataset | None) -> tuple[float, float]:
    shared = _first(ds, "SharedFunctionalGroupsSequence")
    item: Dataset = ds
    for group in (frame_item, shared):
        found = _first(group, "PixelValueTransformationSequence") if group is not None else None
        if found is not None:
            item = found
            break
    try:
        slope = float(item.get("RescaleSlope", 1) or 1)
        intercept = float(item.get("RescaleIntercept", 0) or 0)
    except (TypeError, ValueError):
        raise NotAVolume("its rescale slope or intercept cannot be read") from None
    if slope == 0 or not np.isfinite(slope) or not np.isfinite(intercept):
        raise NotAVolume("its rescale slope or intercept cannot be read")
    return slope, intercept


def _slices(datasets: Sequence[Dataset]) -> list[_Slice]:
    slices = []
    for index, ds in enumerate(datasets):
        try:
            frames = int(ds.get("NumberOfFrames", 1) or 1)
        except (TypeError, ValueError):
            raise NotAVolume("its Number of Frames cannot be read") from None
        per_frame = ds.get("PerFrameFunctionalGroupsSequence") or []
        if frames > 1 and len(per_frame) != frames:
            raise NotAVolume("its frames have no positions (no per-frame functional groups)")
        if int(ds.get("SamplesPerPixel", 1) or 1) != 1:
            raise NotAVolume("it is not a greyscale image")
        for frame in range(frames):
            item = per_frame[frame] if frames > 1 else None
            position, orientation, measures = _frame_geometry(ds, item)
            if "ImagePositionPatient" not in position or "PixelSpacing" not in measures:
                raise NotAVolume("its slices have no readable position or orientation")
            slope, intercept = _rescale(ds, item)
            slices.append(
                _Slice(
                    index,
                    frame,
                    _floats(position.ImagePositionPatient, 3),
                    _floats(orientation.get("ImageOrientationPatient"), 6),
                    _floats(measures.PixelSpacing, 2),
                    (int(ds.Rows), int(ds.Columns)),
                    slope,
                    intercept,
                )
            )
    return slices


def stack(datasets: Sequence[Dataset]) -> tuple[list[_Slice], np.ndarray]:
    """The slices of the series in order along their normal, and the volume's affine;
    NotAVolume when they do not form one evenly spaced volume."""
    slices = _slices(datasets)
    if len(slices) < MIN_SLICES:
        raise NotAVolume(f"it has fewer than {MIN_SLICES} slices")
    first = slices[0]
    for other in slices[1:]:
        if other.shape != first.shape or not np.allclose(other.spacing, first.spacing, atol=1e-3):
            raise NotAVolume("its slices differ in size or pixel spacing")
        if not np.allclose(other.orientation, first.orientation, atol=1e-3):
            raise NotAVolume("its slices differ in orientation")
    row, column = first.orientation[:3], first.orientation[3:]
    normal = np.cross(row, column)
    if not np.isclose(np.linalg.norm(normal), 1.0, atol=1e-3):
        raise NotAVolume("its slices have no readable position or orientation")
    slices.sort(key=lambda s: float(s.position @ normal))
    depths = np.array([s.position @ normal for s in slices])
    steps = np.diff(depths)
    step = float(np.median(steps))
    if step <= 0.01 or np.any(np.abs(steps - step) > 0.1 * step + 0.01):
        raise NotAVolume("its slices are not evenly spaced (a gap, or a slice twice)")
    in_plane = np.array(
        [
            (s.position - first.position) - (s.position - first.position) @ normal * normal
            for s in slices
        ]
    )
    if np.max(np.linalg.norm(in_plane, axis=1)) > 0.5 * step + 0.5:
        raise NotAVolume("its slices are not stacked one above the other")
    affine = np.eye(4)
    affine[:3, 0] = row * first.spacing[1]  # along a row: the column index grows
    affine[:3, 1] = column * first.spacing[0]
    affine[:3, 2] = (slices[-1].position - slices[0].position) / (len(slices) - 1)
    affine[:3, 3] = slices[0].position
    return slices, affine


def read_volume(datasets: Sequence[Dataset]) -> Volume:
    """The volume of a series whose datasets hold their pixel data; NotAVolume when the
    series is not one volume or its pixels cannot be decoded."""
    modality = modality_of(datasets[0])
    if modality not in HEAD_MODALITIES:
        raise NotAVolume("it is neither CT nor MR")
    slices, affine = stack(datasets)
    arrays: dict[int, np.ndarray] = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for index in sorted({s.instance for s in slices}):
            try:
                array = datasets[index].pixel_array
            except Exception:
                raise NotAVolume("its pixel data cannot be decoded") from None
            arrays[index] = array.reshape((-1, *array.shape[-2:]))
    dtypes = {a.dtype for a in arrays.values()}
    if len(dtypes) != 1 or next(iter(dtypes)).kind not in "iu":
        raise NotAVolume("its slices store their pixels in different ways")
    stored = np.stack([arrays[s.instance][s.frame] for s in slices])
    try:
        bits = {int(ds.get("BitsStored") or ds.get("BitsAllocated") or 16) for ds in datasets}
    except (TypeError, ValueError):
        raise NotAVolume("its Bits Stored cannot be read") from None
    if len(bits) != 1:
        raise NotAVolume("its slices store their pixels in different ways")
    bits_stored = bits.pop()
    return Volume(
        stored,
        affine,
        [(s.instance, s.frame) for s in slices],
        modality,
        np.array([s.slope for s in slices]),
        np.array([s.intercept for s in slices]),
        bits_stored,
        next(iter(dtypes)).kind == "i",
    )
