"""One small PNG per series, drawn from the published pixel data of its middle image.

The file is the one in the donation's dataset, checked against the SHA-256
that ``instances.json`` (and the catalog) records for it, so a preview shows
exactly what was published: screened, with its payloads stripped. Windowing:
the file's own Window Center and Width where present, else the 1st to 99th
percentile of the (modality-rescaled) values. Colour images are kept as they
are. Previews are keyed by that SHA-256, so a rebuild draws only those of new
files.
"""

from __future__ import annotations

import hashlib
import io
import logging
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

PREVIEW_VERSION = "3"
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


def render_preview(path: Path) -> bytes | None:
    """PNG bytes of the middle frame of ``path``, or None when it cannot be drawn.

    The frame is decoded and rendered by the pixel stage's own code
    (``pixels.frames``), and that 8-bit rendering, as shown and at full size, is
    screened for text (``pixels.text``) before it is reduced to the preview: one
    that holds text is not drawn. The reduction only averages pixels, so it shows
    no text that the full-size rendering did not; small text, legible at full size,
    would be lost in a reduced copy, and a reduced body (ribs, limbs) looks like
    lines of glyphs to the detector.
    """
    try:
        import pydicom
        from PIL import Image

        from ..pixels.frames import decode, frame_count, rendering
        from ..pixels.text import screen_image

        ds = pydicom.dcmread(path)
        frame = next(decode(ds, [frame_count(ds) // 2]))
        shown = rendering(frame, ds)
        if screen_image(shown):
            log.warning("no preview for %s: the text screening found text in it", path)
            return None
        image = Image.fromarray(shown, "RGB" if frame.ndim == 3 else "L")
        image.thumbnail((MAX_SIDE, MAX_SIDE))
        out = io.BytesIO()
        image.save(out, "PNG", optimize=True)
        return out.getvalue()
    except Exception as exc:  # any unreadable pixel data means "no preview", never a failed build
        log.warning("no preview for %s: %s", path, exc)
        return None


def _digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def preview_for(path: Path, sha256: str, cache: Path | None) -> bytes | None:
    """The preview of one file, from the cache when its content was drawn before."""
    cached = cache / f"{sha256}-v{PREVIEW_VERSION}.png" if cache else None
    if cached is not None and cached.is_file():
        return cached.read_bytes()
    if cached is not None and cached.with_suffix(".none").is_file():
        return None
    if not path.is_file():  # content not present (an annex symlink without content)
        return None
    if _digest(path) != sha256:  # drawn only from the published bytes the catalog lists
        log.warning("no preview for %s: its content is not the published file's", path)
        return None
    data = render_preview(path)
    if cached is not None:
        cached.parent.mkdir(parents=True, exist_ok=True)
        if data is None:
            cached.with_suffix(".none").write_bytes(b"")
        else:
            cached.write_bytes(data)
    return data


def draw_previews(dataset: Path, instances: list[dict[str, Any]], cache: Path) -> int:
    """Draw the preview of every series of a dataset into the cache (as ``build`` would
    find them), where the files are: on the worker that wrote them. Returns how many."""
    drawn = 0
    for folder in sorted({i["path"].split("/", 1)[0] for i in instances}):
        instance = middle_instance(instances, folder)
        if instance is not None:
            drawn += preview_for(dataset / instance["path"], instance["sha256"], cache) is not None
    return drawn
