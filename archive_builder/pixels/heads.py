"""CT and MR series that may show a face: defaced and checked, or not published.

- A series that stacks into a volume (``volume.MIN_SLICES`` slices or more) is
  defaced when the head template fits it (``deface``); its new pixel data is
  written uncompressed (Explicit VR Little Endian), with Recognizable Visual
  Features NO and the Clean Recognizable Visual Features Option (113102).
- A series of as many slices that does not stack into one volume (gaps, mixed
  sizes or orientations, undecodable) is not published: it cannot be checked.
- 2D images (fewer slices: lone slices, scouts, localizers) cannot be defaced
  with a check, so those that can show the outline of a face are not
  published: localizers (Image Type LOCALIZER, or acquired images in more than
  one plane, per frame in enhanced files), sagittal or coronal images whose Body
  Part Examined is the head, and slices of a series labelled as the head that
  reach 30 mm or more across (a few thick axial slices still render a face). A
  lone axial slice is published: a cross-section shows no face surface.
- A series labelled as the head (``labelled_head``) that the template cannot be
  fitted to is not published, and neither is any series on which defacing or
  its check fails for any reason: what cannot be shown to hold no face is not
  published.
  Projections (Image Type PROJECTION IMAGE: angiography's maximum intensity
  projections) are published: they show the vessels, the rest suppressed.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from pydicom import dcmread
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset
from pydicom.tag import Tag
from pydicom.uid import ExplicitVRLittleEndian

from .volume import MIN_SLICES, NotAVolume, Volume, modality_of, read_volume
from .wording import (
    FAILED,
    FEW_HEAD_SLICES,
    HEAD_PROFILE,
    LOCALIZER,
    METHOD,
    NOT_A_VOLUME,
    UNREADABLE,
)

CLEAN_VISUAL_FEATURES = ("113102", "Clean Recognizable Visual Features Option")
RECOGNIZABLE = Tag(0x00280302)
PIXEL_DATA = Tag(0x7FE00010)
REMOVED = (Tag(0x7FE00001), Tag(0x7FE00002))  # extended offset table: no longer holds
# Body Part Examined values whose field of view can hold the face (the standard's defined
# terms, CID 4031, and their common spellings).
HEAD_PARTS = frozenset(
    {
        "HEAD", "BRAIN", "SKULL", "FACE", "HEADNECK", "NECK", "EYE", "ORBIT", "SINUS",
        "MAXILLA", "MANDIBLE", "JAW", "TMJ", "NOSE", "NASOPHARYNX", "OROPHARYNX", "MOUTH",
        "EAR", "IAC", "PITUITARY", "SELLA", "ZYGOMA", "NASALBONE", "PAROTID", "CAROTID",
    }
)  # fmt: skip
# Words of a series' or study's description that say it is of the head.
HEAD_WORDS = re.compile(
    r"HEAD|BRAIN|SKULL|FACE|FACIAL|SINUS|ORBIT|NEURO|CRAN|CEREBR|MAXILL|MANDIB|DENTAL|TMJ",
)


def may_show_face(headers: Sequence[Dataset | None]) -> bool:
    """Whether the series is CT or MR (decided from the first header the process has:
    every instance of a series shares its modality)."""
    known = [h for h in headers if h is not None]
    return bool(known) and modality_of(known[0]) != ""


def _read(paths: Sequence[Path], pixels: bool) -> list[Dataset]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return [dcmread(p, stop_before_pixels=not pixels) for p in paths]


def _headers(
    headers: Sequence[Dataset | None], paths: Sequence[Path]
) -> tuple[list[Dataset], list[Dataset] | None]:
    """The series' headers, and its datasets with their pixel data when reading the
    headers read them too: files whose headers this process lacks are read once,
    pixels included (reading them a second time cost a CT about a second), and only
    for their headers when the pixels cannot be read (the series is then judged as
    before: a volume is reported unreadable, a 2D image by its headers)."""
    if all(h is not None for h in headers):
        return [h for h in headers if h is not None], None
    try:
        datasets = _read(paths, pixels=True)
    except Exception:
        return _read(paths, pixels=False), None
    return datasets, datasets


def labelled_head(datasets: Sequence[Dataset]) -> bool:
    """Whether the headers say the series is of the head: its Body Part Examined, or a
    head word in its series or study description or protocol name."""
    for ds in datasets:
        part = str(ds.get("BodyPartExamined", "") or "").strip().upper().replace(" ", "")
        if part in HEAD_PARTS:
            return True
        for keyword in ("SeriesDescription", "StudyDescription", "ProtocolName"):
            if HEAD_WORDS.search(str(ds.get(keyword, "") or "").upper()):
                return True
    return False


def _orientations(ds: Dataset) -> list[object]:
    """Image Orientation (Patient) of a file: its own, or each frame's (enhanced files
    keep it in the per-frame or shared functional groups)."""
    found: list[object] = []
    if ds.get("ImageOrientationPatient") is not None:
        found.append(ds.ImageOrientationPatient)
    for groups in (
        *(ds.get("PerFrameFunctionalGroupsSequence") or []),
        *(ds.get("SharedFunctionalGroupsSequence") or []),
    ):
        for plane in groups.get("PlaneOrientationSequence") or []:
            if plane.get("ImageOrientationPatient") is not None:
                found.append(plane.ImageOrientationPatient)
    return found


def _planes(datasets: Sequence[Dataset]) -> set[tuple[float, ...]]:
    planes: set[tuple[float, ...]] = set()
    for ds in datasets:
        for value in _orientations(ds):
            try:
                numbers = tuple(round(float(v), 2) for v in value)  # type: ignore[attr-defined]
            except (TypeError, ValueError):
                continue
            if len(numbers) == 6:
                planes.add(numbers)
    return planes


def _projections(datasets: Sequence[Dataset]) -> bool:
    """Angiography's projection images (maximum intensity projections): vessels shown,
    the rest suppressed."""
    types = {str(v).upper() for ds in datasets for v in ds.get("ImageType", [])}
    return "PROJECTION IMAGE" in types and "LOCALIZER" not in types


def two_d_reason(datasets: Sequence[Dataset]) -> str | None:
    """Why 2D CT or MR images are not published (see the module's text), or None."""
    image_types = {str(v).upper() for ds in datasets for v in ds.get("ImageType", [])}
    planes = _planes(datasets)
    projections = "PROJECTION IMAGE" in image_types and "LOCALIZER" not in image_types
    if "LOCALIZER" in image_types or (len(planes) > 1 and not projections):
        return LOCALIZER
    if planes and labelled_head(datasets) and not projections:
        row, column = np.array(next(iter(planes))[:3]), np.array(next(iter(planes))[3:])
        normal = np.abs(np.cross(row, column))
        if normal[2] < max(normal[0], normal[1]):
            return HEAD_PROFILE
    return None


FACE_DEPTH_MM = 30.0  # slices covering less than this cannot render a face's relief


def _extent(datasets: Sequence[Dataset], frames: int) -> float:
    """How far the slices reach across (mm): frames times their spacing; unknown
    spacing counts as reaching far enough (fail closed)."""
    if frames < 2:
        return 0.0
    first = datasets[0]
    for keyword in ("SpacingBetweenSlices", "SliceThickness"):
        try:
            step = abs(float(first.get(keyword) or 0))
        except (TypeError, ValueError):
            step = 0.0
        if step > 0:
            return frames * step
    return float("inf")


def _frames(datasets: Sequence[Dataset]) -> int:
    total = 0
    for ds in datasets:
        try:
            total += int(ds.get("NumberOfFrames", 1) or 1)
        except (TypeError, ValueError):
            total += 1
    return total


def review_head_series(
    headers: Sequence[Dataset | None], paths: Sequence[Path]
) -> list[tuple[str | None, DataElement | None, str | None]]:
    """Per instance of a CT or MR series: (why it is not published, or None; its new
    pixel data, or None to keep its own; the defacing note for the report)."""
    count = len(paths)
    try:
        headers_read, with_pixels = _headers(headers, paths)
    except Exception:
        return [(UNREADABLE, None, None)] * count
    frames = _frames(headers_read)
    if frames < MIN_SLICES:
        reason = two_d_reason(headers_read)
        reaches = _extent(headers_read, frames) >= FACE_DEPTH_MM
        if (
            reason is None
            and reaches
            and labelled_head(headers_read)
            and not _projections(headers_read)
        ):
            reason = FEW_HEAD_SLICES
        return [(reason, None, None)] * count
    try:
        datasets = _read(paths, pixels=True) if with_pixels is None else with_pixels
        volume = read_volume(datasets)
    except NotAVolume as exc:
        return [(NOT_A_VOLUME.format(exc), None, None)] * count
    except Exception:
        return [(UNREADABLE, None, None)] * count
    # imported here: defacing loads SimpleITK (about 90 MB resident), which no other
    # series needs (a study of 10,000 radiographs is ingested in one process)
    from .deface import deface, verify

    try:
        result = deface(volume, labelled_head(headers_read))
        if result.excluded:
            return [(result.excluded, None, None)] * count
        if result.stored is None:
            return [(None, None, None)] * count
        elements = _pixel_elements(volume, datasets, result.stored)
        problem = verify(volume, result, _decoded(volume, datasets, elements))
    except Exception:  # whatever failed, the face is not shown to be gone
        problem = FAILED
    if problem:
        return [(problem, None, None)] * count
    note = f"{METHOD}; {result.check}"
    return [(None, element, note) for element in elements]


def _pixel_elements(
    volume: Volume, datasets: Sequence[Dataset], stored: np.ndarray
) -> list[DataElement]:
    """New native pixel data, one element per instance, frames in their own order."""
    frames: dict[int, dict[int, np.ndarray]] = {}
    for (instance, frame), plane in zip(volume.places, stored, strict=True):
        frames.setdefault(instance, {})[frame] = plane
    elements = []
    for index, ds in enumerate(datasets):
        planes = frames[index]
        data = np.stack([planes[f] for f in sorted(planes)])
        bits = int(ds.BitsAllocated)
        signed = int(ds.get("PixelRepresentation", 0) or 0) == 1
        dtype = np.dtype(f"<{'i' if signed else 'u'}{bits // 8}")
        raw = data.astype(dtype).tobytes()
        if len(raw) % 2:
            raw += b"\x00"
        elements.append(DataElement(PIXEL_DATA, "OW" if bits > 8 else "OB", raw))
    return elements


def _decoded(
    volume: Volume, datasets: Sequence[Dataset], elements: list[DataElement]
) -> np.ndarray:
    """The volume as the new pixel data holds it (decoded back from the bytes)."""
    arrays = []
    for ds, element in zip(datasets, elements, strict=True):
        bits = int(ds.BitsAllocated)
        signed = int(ds.get("PixelRepresentation", 0) or 0) == 1
        dtype = np.dtype(f"<{'i' if signed else 'u'}{bits // 8}")
        rows, columns = int(ds.Rows), int(ds.Columns)
        count = len(element.value) // dtype.itemsize // (rows * columns)
        data = np.frombuffer(element.value, dtype, count * rows * columns)
        arrays.append(data.reshape(count, rows, columns))
    return np.stack([arrays[i][f] for i, f in volume.places])


def new_elements(pixel: DataElement) -> tuple[DataElement, ...]:
    return (pixel, DataElement(RECOGNIZABLE, "CS", "NO"))


__all__ = [
    "CLEAN_VISUAL_FEATURES",
    "REMOVED",
    "ExplicitVRLittleEndian",
    "may_show_face",
    "new_elements",
    "review_head_series",
]
