"""One small PNG per series, drawn from the DICOM pixel data of its middle image.

Windowing: the file's own Window Center and Width where present, else the 1st
to 99th percentile of the (modality-rescaled) values. Colour images are kept
as they are. Previews are keyed by the SHA-256 of the file they come from, so
a rebuild draws only those of new files.
"""

from __future__ import annotations

import io
import logging
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

PREVIEW_VERSION = "1"
MAX_SIDE = 256


def middle_instance(instances: list[dict[str, Any]], folder: str) -> dict[str, Any] | None:
    """The middle image of a series (by Instance Number), or None if it has no image."""
    images = [
        i
        for i in instances
        if i["path"].startswith(folder + "/") and i.get("Rows") and i.get("Columns")
    ]
    if not images:
        return None
    images.sort(key=lambda i: (i.get("InstanceNumber") or 0, i["path"]))
    return images[len(images) // 2]


def _window(pixels: Any, ds: Any) -> Any:
    import numpy as np
    from pydicom.multival import MultiValue

    def first(value: Any) -> float | None:
        if value is None or value == "":
            return None
        return float(value[0] if isinstance(value, MultiValue | list) else value)

    centre, width = first(ds.get("WindowCenter")), first(ds.get("WindowWidth"))
    if centre is None or width is None or width <= 1:
        low, high = np.percentile(pixels, (1, 99))
    else:
        low, high = centre - width / 2, centre + width / 2
    if high <= low:
        high = low + 1
    scaled = (np.clip(pixels, low, high) - low) / (high - low) * 255
    if ds.get("PhotometricInterpretation") == "MONOCHROME1":
        scaled = 255 - scaled
    return scaled.astype(np.uint8)


def render_preview(path: Path) -> bytes | None:
    """PNG bytes of the middle frame of ``path``, or None when it cannot be drawn."""
    try:
        import numpy as np
        import pydicom
        from PIL import Image
        from pydicom.pixels.processing import apply_modality_lut

        ds = pydicom.dcmread(path)
        pixels = ds.pixel_array
        frames = int(ds.get("NumberOfFrames") or 1)
        colour = int(ds.get("SamplesPerPixel") or 1) > 1
        if frames > 1:
            pixels = pixels[frames // 2]
        if colour:
            if ds.get("PhotometricInterpretation", "").startswith("YBR"):
                from pydicom.pixels.processing import convert_color_space

                pixels = convert_color_space(pixels, ds.PhotometricInterpretation, "RGB")
            image = Image.fromarray(np.asarray(pixels, dtype=np.uint8), "RGB")
        else:
            values = apply_modality_lut(pixels, ds).astype(np.float64)
            image = Image.fromarray(_window(values, ds), "L")
        image.thumbnail((MAX_SIDE, MAX_SIDE))
        out = io.BytesIO()
        image.save(out, "PNG", optimize=True)
        return out.getvalue()
    except Exception as exc:  # any unreadable pixel data means "no preview", never a failed build
        log.warning("no preview for %s: %s", path, exc)
        return None


def preview_for(path: Path, sha256: str, cache: Path | None) -> bytes | None:
    """The preview of one file, from the cache when its content was drawn before."""
    cached = cache / f"{sha256}-v{PREVIEW_VERSION}.png" if cache else None
    if cached is not None and cached.is_file():
        return cached.read_bytes()
    if cached is not None and cached.with_suffix(".none").is_file():
        return None
    if not path.is_file():  # content not present (an annex symlink without content)
        return None
    data = render_preview(path)
    if cached is not None:
        cached.parent.mkdir(parents=True, exist_ok=True)
        if data is None:
            cached.with_suffix(".none").write_bytes(b"")
        else:
            cached.write_bytes(data)
    return data
