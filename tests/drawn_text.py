"""Names, dates and IDs drawn into real CT, MR and CR pixel data, and clean frames.

Shared by the screening tests and ``benchmarks/bench_deid.py``. The clean frames
are every distinct frame of pydicom's monochrome CT, MR and CR test images and of
nibabel's real MR data (``nibabel_frames``). Text is drawn
with Pillow's own font (FreeType, antialiased, any size) or its bitmap font,
at the top of the stored range (12 bits), dim just above the image's floor,
dark, in 8 pixels, rotated, in a corner and across the anatomy. A variant is
made only where the text fits at its size: what is drawn is legible.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterator
from dataclasses import dataclass

import nibabel_frames
import numpy as np
import pydicom
from PIL import Image, ImageDraw, ImageFont
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset

# Real monochrome CT, MR and CR images of pydicom's test data and pydicom-data.
BASES = (
    "CT_small.dcm",
    "693_UNCI.dcm",
    "MR_small.dcm",
    "MR2_UNCI.dcm",
    "emri_small.dcm",
    "RG3_UNCR.dcm",
    "eCT_Supplemental.dcm",
)
# Clean frames to count false positives: the bases and every other monochrome CT, MR and
# CR image of pydicom's test data and pydicom-data that decodes here (as stored: lossy
# JPEG 2000 too), each distinct frame once.
CLEAN = (
    *BASES,
    "693_J2KR.dcm",
    "bad_sequence.dcm",
    "explicit_VR-UN.dcm",
    "J2K_pixelrep_mismatch.dcm",
    "MR-SIEMENS-DICOM-WithOverlays.dcm",
    "examples_overlay.dcm",
    "MR2_J2KI.dcm",
    "MR2_J2KR.dcm",
    "RG1_J2KI.dcm",
    "RG1_J2KR.dcm",
    "RG3_J2KI.dcm",
    "RG3_J2KR.dcm",
)
TEXTS = ("QUIBBLETON^ANNA", "1961-04-23", "MRN 48213377", "DOB 23.04.1961", "ID PX555123")


@dataclass(frozen=True)
class Frame:
    name: str
    ds: Dataset
    pixels: np.ndarray  # stored values, 2-D


@dataclass(frozen=True)
class CleanFrame:
    name: str
    source: str  # the package that ships it
    modality: str
    pixels: np.ndarray  # stored values, 2-D


def frames(bases: tuple[str, ...] = BASES) -> Iterator[Frame]:
    for name in bases:
        path = get_testdata_file(name, download=False)
        assert path, f"{name} missing from pydicom's test data"
        ds = pydicom.dcmread(path)
        array = ds.pixel_array
        if array.ndim == 3:
            for index in range(array.shape[0]):
                yield Frame(f"{name}#{index}", ds, array[index])
        else:
            yield Frame(name, ds, array)


def clean_frames() -> Iterator[CleanFrame]:
    """Each distinct frame of the ``CLEAN`` images and of nibabel's real MR data once."""
    found = [
        *(CleanFrame(f.name, "pydicom", str(f.ds.Modality), f.pixels) for f in frames(CLEAN)),
        *(CleanFrame(name, "nibabel", "MR", pixels) for name, pixels in nibabel_frames.frames()),
    ]
    seen = set()
    for frame in found:
        key = hashlib.sha256(np.ascontiguousarray(frame.pixels).tobytes()).digest()
        if key not in seen:
            seen.add(key)
            yield frame


def _mask(text: str, size: int, angle: int, bitmap: bool) -> np.ndarray:
    font = ImageFont.load_default_imagefont() if bitmap else ImageFont.load_default(size=size)
    left, top, right, bottom = font.getbbox(text)
    image = Image.new("L", (right - left + 2, bottom - top + 2), 0)
    ImageDraw.Draw(image).text((1 - left, 1 - top), text, fill=255, font=font)
    if angle:
        image = image.rotate(angle, expand=True, resample=Image.Resampling.BICUBIC)
    return np.asarray(image, dtype=np.float64) / 255


def draw(
    pixels: np.ndarray,
    text: str,
    *,
    value: float,
    size: int = 12,
    angle: int = 0,
    where: str = "corner",
    bitmap: bool = False,
    rng: random.Random | None = None,
) -> np.ndarray | None:
    """``pixels`` with ``text`` drawn at ``value``; None when it does not fit."""
    mask = _mask(text, size, angle, bitmap)
    height, width = pixels.shape
    mh, mw = mask.shape
    if mh + 2 > height or mw + 2 > width:
        return None
    if where == "corner":
        bottom, right = height - mh - 1, width - mw - 1
        corners = [(1, 1), (1, right), (bottom, 1), (bottom, right)]
        y, x = (rng or random.Random(0)).choice(corners)
    else:
        y, x = (height - mh) // 2, (width - mw) // 2
    out = pixels.astype(np.float64)
    region = out[y : y + mh, x : x + mw]
    out[y : y + mh, x : x + mw] = region * (1 - mask) + value * mask
    info = np.iinfo(pixels.dtype)
    return np.clip(np.round(out), info.min, info.max).astype(pixels.dtype)


def levels(frame: Frame) -> dict[str, float]:
    """Grey levels to draw at: the top of a 12-bit range (or of the stored range), just
    above the image's floor, and the floor itself (dark text across bright anatomy)."""
    bits = int(frame.ds.BitsStored)
    signed = int(frame.ds.PixelRepresentation) == 1
    top = (1 << (bits - 1)) - 1 if signed else (1 << bits) - 1
    floor = float(np.percentile(frame.pixels, 1))
    spread = float(np.percentile(frame.pixels, 99)) - floor
    return {"bright": min(top, 4095), "dim": floor + max(spread * 0.05, 12), "dark": floor}


def variants(frame: Frame, rng: random.Random) -> Iterator[tuple[str, np.ndarray]]:
    """(kind, pixels) for each drawn-text variant of ``frame`` that fits."""
    level = levels(frame)
    kinds = [
        ("bright corner", dict(value=level["bright"])),
        ("bright 8 px", dict(value=level["bright"], size=8)),
        ("dim corner", dict(value=level["dim"])),
        ("bright across anatomy", dict(value=level["bright"], where="centre")),
        ("dark across anatomy", dict(value=level["dark"], where="centre")),
        ("rotated 30", dict(value=level["bright"], angle=30)),
        ("rotated 90", dict(value=level["bright"], angle=90)),
        ("bitmap font", dict(value=level["bright"], bitmap=True)),
        ("large", dict(value=level["bright"], size=max(20, min(frame.pixels.shape) // 20))),
    ]
    for kind, options in kinds:
        text = rng.choice(TEXTS)
        drawn = draw(frame.pixels, text, rng=rng, **options)  # type: ignore[arg-type]
        if drawn is None:
            drawn = draw(frame.pixels, text.split()[-1], rng=rng, **options)  # type: ignore[arg-type]
        if drawn is not None:
            yield kind, drawn
