"""Every frame of an instance's pixel data, decoded as it is published.

The pixel data decoded here is the exact element the writer saves (native
bytes read once, or encapsulated frames after their payloads are stripped),
so what is screened is what is published. Decoders: pydicom itself (native,
RLE), pylibjpeg-openjpeg (JPEG 2000), GDCM (JPEG lossless, JPEG-LS, JPEG
baseline); a frame none of them decodes is not published.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np
from pydicom.dataelem import DataElement, RawDataElement
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.multival import MultiValue
from pydicom.uid import UID

# The attributes a decoder reads besides the pixel data itself.
PIXEL_MODULE = (
    "Rows",
    "Columns",
    "SamplesPerPixel",
    "BitsAllocated",
    "BitsStored",
    "HighBit",
    "PixelRepresentation",
    "PhotometricInterpretation",
    "PlanarConfiguration",
    "NumberOfFrames",
)
RENDERING = (
    "RescaleSlope",
    "RescaleIntercept",
    "WindowCenter",
    "WindowWidth",
)
# The lookup tables a viewer maps stored values through before it shows them (a
# palette, a Modality LUT, VOI LUTs): a table may map values one apart to black and
# white, so the screening looks at a frame through each (``review.views``).
LOOKUP_TABLES = (
    "RedPaletteColorLookupTableDescriptor",
    "GreenPaletteColorLookupTableDescriptor",
    "BluePaletteColorLookupTableDescriptor",
    "RedPaletteColorLookupTableData",
    "GreenPaletteColorLookupTableData",
    "BluePaletteColorLookupTableData",
    "SegmentedRedPaletteColorLookupTableData",
    "SegmentedGreenPaletteColorLookupTableData",
    "SegmentedBluePaletteColorLookupTableData",
    "ModalityLUTSequence",
    "VOILUTSequence",
)


class DecodeError(ValueError):
    """Pixel data that cannot be decoded: the instance is not published."""


def pixel_dataset(
    header: Dataset, element: DataElement | RawDataElement, transfer_syntax: str
) -> Dataset:
    """A dataset of just what decoding (and rendering) needs: the pixel module of
    ``header``, its lookup tables, and ``element`` as its pixel data."""
    ds = Dataset()
    for keyword in (*PIXEL_MODULE, *RENDERING, *LOOKUP_TABLES):
        value = header.get(keyword)
        if value is not None and value != "":
            setattr(ds, keyword, value)
    ds[element.tag] = element
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = UID(transfer_syntax)
    is_implicit, is_little = (
        getattr(element, "is_implicit_VR", False),
        getattr(element, "is_little_endian", True),
    )
    ds.set_original_encoding(is_implicit, is_little)
    return ds


def frame_count(ds: Dataset) -> int:
    """Number of Frames (1 when absent); DecodeError when it is not a positive number."""
    value = ds.get("NumberOfFrames")
    if value is None or value == "":
        return 1
    try:
        count = int(value)
    except (TypeError, ValueError):
        raise DecodeError("Number of Frames is not a number") from None
    if count < 1:
        raise DecodeError("Number of Frames is not a positive number")
    return count


def decode(ds: Dataset, indices: Iterable[int] | None = None) -> Iterator[np.ndarray]:
    """Every frame (or those at ``indices``) of ``ds`` (see ``pixel_dataset``), as stored:
    a 2-D array per frame, (rows, columns, 3) in RGB for colour.

    Frame by frame with ``pixel_array(index=...)``: pydicom's ``iter_pixels`` fails
    on a JPEG 2000 frame whose sign it corrects (pydicom 3.0.2).
    """
    from pydicom.pixels.utils import pixel_array
    from pydicom.uid import JPEG2000TransferSyntaxes

    syntax = ds.file_meta.TransferSyntaxUID
    # OpenJPEG through pylibjpeg decodes JPEG 2000 several times faster than GDCM
    plugin = "pylibjpeg" if syntax in JPEG2000TransferSyntaxes else ""
    for index in range(frame_count(ds)) if indices is None else indices:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                frame = pixel_array(ds, index=index, decoding_plugin=plugin)
        except Exception as exc:
            raise DecodeError(f"the pixel data cannot be decoded ({type(exc).__name__})") from None
        yield frame


def _first(value: Any) -> float | None:
    if value is None or value == "":
        return None
    try:
        return float(value[0] if isinstance(value, MultiValue | list) else value)
    except (TypeError, ValueError):
        return None


def modality_values(frame: np.ndarray, ds: Dataset) -> np.ndarray:
    """A monochrome frame in modality units (Rescale Slope and Intercept), as float32."""
    values = frame.astype(np.float32)
    slope, intercept = _first(ds.get("RescaleSlope")), _first(ds.get("RescaleIntercept"))
    if slope is not None and slope != 1:
        values *= slope
    if intercept:
        values += intercept
    return values


def window(values: np.ndarray, low: float, high: float, invert: bool = False) -> np.ndarray:
    """``values`` between ``low`` and ``high`` as 8-bit grey."""
    if not high > low:
        high = low + 1
    scaled = (np.clip(values, low, high) - low) * np.float32(255 / (high - low))
    out: np.ndarray = scaled.astype(np.uint8)
    if invert:
        out = 255 - out
    return out


def preview_window(values: np.ndarray, ds: Dataset) -> tuple[float, float]:
    """The window a preview shows: the file's own (first) window, else the 1st to 99th
    percentile of the values."""
    centre, width = _first(ds.get("WindowCenter")), _first(ds.get("WindowWidth"))
    if centre is None or width is None or width <= 1:
        low, high = np.percentile(values, (1, 99))
        return float(low), float(high)
    return centre - width / 2, centre + width / 2


def rendering(frame: np.ndarray, ds: Dataset) -> np.ndarray:
    """A frame as the site's preview shows it: 8-bit grey in the preview window (inverted
    for MONOCHROME1), or 8-bit RGB for colour."""
    if frame.ndim == 3:
        return np.asarray(frame, dtype=np.uint8)
    values = modality_values(frame, ds)
    low, high = preview_window(values, ds)
    return window(values, low, high, ds.get("PhotometricInterpretation") == "MONOCHROME1")
