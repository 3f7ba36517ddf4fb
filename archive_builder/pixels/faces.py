"""Look for a face the way a stranger would: render the skin of a head volume from the
front and from both sides, and run a face detector on the renders.

Rendering is plain numpy: the volume is resampled to 2 mm along the patient's
own axes (DICOM patient coordinates are anatomical: the face looks towards
-y), the first voxel above a skin threshold along each ray gives a depth, and
the depth's slope gives the shading. The detectors are OpenCV's cascade
classifiers, whose models ship inside the ``opencv-python-headless`` wheel
(frontal faces from the front, profiles from the sides).
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import cache
from typing import Any

import numpy as np
import SimpleITK as sitk

from .register import image, values
from .volume import Volume

RENDER_MM = 2.0
CLOSING = 4  # voxels
CT_SKIN = (-600.0, -450.0, -300.0, -200.0, -100.0)  # HU
MR_SKIN = (0.06, 0.1, 0.15, 0.2, 0.25)  # of the volume's 99.5th percentile
VOTES = 2  # renders in which a detector must find a face: one alone is the detector's noise
FRONTAL = ("haarcascade_frontalface_default.xml", "haarcascade_frontalface_alt2.xml")
PROFILE = ("haarcascade_profileface.xml",)


@cache
def _cascade(name: str) -> Any:
    import cv2

    classifier = cv2.CascadeClassifier(str(cv2.data.haarcascades) + name)  # type: ignore[attr-defined]
    if classifier.empty():
        raise RuntimeError(f"OpenCV's {name} cannot be loaded; reinstall opencv-python-headless")
    return classifier


def patient_grid(volume: Volume, data: np.ndarray) -> np.ndarray:
    """``data`` (the volume's voxels) resampled to RENDER_MM along x (left), y (back),
    z (up): an array indexed (z, y, x), -inf outside the field of view."""
    return _resampled(volume, image(np.asarray(data, np.float32), volume.affine))


def stored_grid(volume: Volume, stored: np.ndarray | None = None) -> np.ndarray:
    """``patient_grid`` of the stored values ``stored`` (else the volume's own) in
    physical units, resampled from the stored integers: where every slice shares one
    rescale, interpolating and then rescaling gives the same values (to float
    rounding) as rescaling the whole volume to floats first, without a float copy of
    it. Slices with rescales of their own are rescaled first."""
    stored = volume.stored if stored is None else stored
    slope, intercept = volume.slope, volume.intercept
    if len(slope) and not (np.all(slope == slope[0]) and np.all(intercept == intercept[0])):
        return patient_grid(volume, physical(volume, stored))
    grid = _resampled(volume, image(stored, volume.affine))
    inside = np.isfinite(grid)
    if len(slope):
        grid[inside] = grid[inside] * np.float32(slope[0]) + np.float32(intercept[0])
    return grid


def _resampled(volume: Volume, source: sitk.Image) -> np.ndarray:
    corners = np.array([[a, b, c, 1.0] for a in (0, 1) for b in (0, 1) for c in (0, 1)])
    size = np.array(volume.stored.shape[::-1], float) - 1
    points = (volume.affine @ (corners * np.append(size, 1)).T)[:3]
    low, high = points.min(axis=1), points.max(axis=1)
    shape = np.ceil((high - low) / RENDER_MM).astype(int) + 1
    resampled = sitk.Resample(
        source,
        size=[int(n) for n in shape],
        transform=sitk.Transform(),
        interpolator=sitk.sitkLinear,
        outputOrigin=[float(v) for v in low],
        outputSpacing=[RENDER_MM] * 3,
        outputDirection=[1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0],
        defaultPixelValue=-np.inf,
        outputPixelType=sitk.sitkFloat32,
    )
    return np.asarray(sitk.GetArrayFromImage(resampled))


def _shade(hit: np.ndarray, depth: np.ndarray) -> np.ndarray:
    """An 8-bit picture of a depth map lit from the viewer, 1 mm a pixel."""
    import cv2

    smooth = cv2.GaussianBlur(depth.astype(np.float32), (0, 0), 0.8)
    gy, gx = np.gradient(smooth)
    light = np.where(hit, 1.0 / np.sqrt(1.0 + gx**2 + gy**2), 0.0)
    picture = (light * 255).astype(np.uint8)
    scale = RENDER_MM  # to 1 mm a pixel: the detectors' windows fit a face then
    return np.asarray(cv2.resize(picture, None, fx=scale, fy=scale, interpolation=cv2.INTER_LINEAR))


def _view(skin: np.ndarray, axis: int, reverse: bool) -> np.ndarray:
    """The skin seen along ``axis`` of (z, y, x), from its far end when ``reverse``."""
    if reverse:
        skin = np.flip(skin, axis)
    hit = np.asarray(skin.any(axis=axis))
    depth = np.where(hit, np.argmax(skin, axis=axis), skin.shape[axis]).astype(np.float32)
    return _shade(hit[::-1], depth[::-1])  # superior at the top


def renders(grid: np.ndarray, threshold: float) -> Iterator[tuple[str, np.ndarray]]:
    """(view, picture) from the front and from each side at one skin threshold."""
    from scipy import ndimage

    # closed, as skin is: cavities opened by defacing (orbits, sinuses) do not draw edges
    skin = ndimage.binary_closing(grid > threshold, iterations=CLOSING, border_value=0)
    yield "front", _view(skin, 1, False)  # from the front (low y), patient's right at left
    yield "left", _view(skin, 2, True)  # from the patient's left (high x)
    yield "right", _view(skin, 2, False)[:, ::-1]


def thresholds(volume: Volume, data: np.ndarray) -> tuple[float, ...]:
    if volume.modality == "CT":
        return CT_SKIN
    return tuple(top_value(volume, data) * fraction for fraction in MR_SKIN)


def top_value(
    volume: Volume, data: np.ndarray | None = None, stored: np.ndarray | None = None
) -> float:
    """The 99.5th percentile of ``data`` (else of the stored values ``stored``, else of
    the volume's own, in physical units), from every other slice, row and column: a
    percentile of a whole CT costs seconds."""
    if data is None:
        stored = volume.stored if stored is None else stored
        sample = stored[::2, ::2, ::2].astype(np.float32)
        sample *= volume.slope[::2, None, None].astype(np.float32)
        sample += volume.intercept[::2, None, None].astype(np.float32)
    else:
        sample = data[::2, ::2, ::2]
    return float(np.percentile(sample, 99.5))


def face_seen(volume: Volume, data: np.ndarray) -> bool:
    """Whether renders of ``data`` (the volume's voxels in physical units) show a face:
    a detector finds one in at least VOTES renders."""
    return faces_found(volume, data, VOTES) >= VOTES


def stored_face_seen(volume: Volume, stored: np.ndarray | None = None) -> bool:
    """``face_seen`` of the stored values ``stored`` (else the volume's own), rendered
    from ``stored_grid``: the same renders, without float copies of the volume."""
    levels: tuple[float, ...] = CT_SKIN
    if volume.modality != "CT":
        levels = tuple(top_value(volume, stored=stored) * f for f in MR_SKIN)
    return _count(stored_grid(volume, stored), levels, VOTES) >= VOTES


def faces_found(volume: Volume, data: np.ndarray, enough: int | None = None) -> int:
    """How many renders of ``data`` show a face to the detectors (counting stops at
    ``enough``: the renders left cannot change the answer)."""
    return _count(patient_grid(volume, data), thresholds(volume, data), enough)


def _count(grid: np.ndarray, levels: tuple[float, ...], enough: int | None) -> int:
    found = 0
    for threshold in levels:
        for view, picture in renders(grid, threshold):
            names = FRONTAL if view == "front" else PROFILE
            pictures = [picture] if view == "front" else [picture, picture[:, ::-1].copy()]
            if any(_detect(name, p) for name in names for p in pictures):
                found += 1
                if enough is not None and found >= enough:
                    return found
    return found


def _detect(name: str, picture: np.ndarray) -> bool:
    hits = _cascade(name).detectMultiScale(
        picture, scaleFactor=1.05, minNeighbors=3, minSize=(60, 60)
    )
    return len(hits) > 0


def physical(volume: Volume, stored: np.ndarray | None = None) -> np.ndarray:
    """The voxels (of ``stored``, else the volume's own) in physical units."""
    if stored is None:
        return values(volume)
    data = stored.astype(np.float32)
    data *= volume.slope[:, None, None].astype(np.float32)
    data += volume.intercept[:, None, None].astype(np.float32)
    return data
