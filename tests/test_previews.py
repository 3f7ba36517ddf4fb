"""Series previews drawn from real DICOM pixel data, in every compression the archive meets."""

from __future__ import annotations

import io

import numpy as np
import pydicom
import pytest
from PIL import Image
from pydicom.data import get_testdata_file

from archive_builder.site.previews import MAX_SIDE, render_preview

# One file per family of transfer syntax, each decoded by a different plugin.
COMPRESSED = [
    "JPEG-LL.dcm",  # JPEG Lossless, first-order prediction (CT, MR): GDCM
    "SC_rgb_jpeg_gdcm.dcm",  # JPEG Baseline, colour
    "MR_small_jpeg_ls_lossless.dcm",  # JPEG-LS lossless: GDCM
    "JPEG2000.dcm",  # JPEG 2000: OpenJPEG
    "MR_small_RLE.dcm",  # RLE Lossless: pydicom itself
    "CT_small.dcm",  # uncompressed, for comparison
]


@pytest.mark.parametrize("name", COMPRESSED)
def test_a_preview_is_a_small_png_with_an_actual_image(name: str) -> None:
    path = get_testdata_file(name)
    assert path is not None, f"{name} is missing from pydicom's test data"
    syntax = pydicom.dcmread(path, stop_before_pixels=True).file_meta.TransferSyntaxUID
    png = render_preview(path)  # type: ignore[arg-type]
    assert png is not None, f"no preview for {name} ({syntax.name})"
    image = Image.open(io.BytesIO(png))
    assert image.format == "PNG"
    assert max(image.size) <= MAX_SIDE
    assert len(png) < 100_000
    pixels = np.asarray(image.convert("L"), dtype=np.float64)
    assert pixels.std() > 5, f"{name}: the preview is (nearly) a flat image"


def test_a_file_no_permissive_decoder_reads_gets_no_preview_rather_than_a_failed_build() -> None:
    """12-bit JPEG Extended is decoded only by pylibjpeg-libjpeg (GPL-3.0), which this
    Apache-2.0 tool does not ship: the series is published, without a preview."""
    path = get_testdata_file("JPEG-lossy.dcm")
    assert path is not None
    assert pydicom.dcmread(path, stop_before_pixels=True).BitsStored == 12
    assert render_preview(path) is None  # type: ignore[arg-type]


def test_a_preview_is_drawn_only_from_the_published_bytes(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """preview_for draws a file only when it is the file the catalog lists (same SHA-256):
    never an original, never a file changed after it was published."""
    import hashlib
    import shutil

    from archive_builder.site.previews import preview_for

    path = tmp_path / "instance-0001.dcm"
    shutil.copy(get_testdata_file("CT_small.dcm"), path)  # type: ignore[arg-type]
    published = hashlib.sha256(path.read_bytes()).hexdigest()
    assert preview_for(path, published, None) == render_preview(path)
    assert preview_for(path, "0" * 64, None) is None
