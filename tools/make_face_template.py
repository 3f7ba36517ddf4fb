"""Write the head template that defacing registers to, from pydeface's data files.

    pip download --no-deps pydeface==2.1.0 -d /tmp/pydeface
    pip install nibabel scipy
    python tools/make_face_template.py /tmp/pydeface/pydeface-2.1.0-py3-none-any.whl

pydeface (MIT licence, copyright Russell Poldrack and contributors) ships a
mean T1-weighted head (``pydeface/data/mean_reg2mean.nii.gz``, 1 mm) and the
mask of its face (``facemask.nii.gz``, 0 on the face). Depending on pydeface
at run time would bring nipype and its dependencies for two data files, so
the archive ships what it uses of them, at 2 mm, in
``archive_builder/pixels/face_template.npz`` (about 0.3 MB), with pydeface's
licence beside it:

- ``head``: the mean head, scaled to 0-255 (uint8);
- ``face``: pydeface's face region (its mask below 0.5), resampled;
- ``brain``: the brain of the mean head (intensity above 200, opened by
  10 mm so the scalp and neck fall off, largest part, holes filled): what
  defacing must never touch, dilated further at run time;
- ``affine``: voxel (i, j, k) to DICOM patient coordinates (LPS, mm).

Re-running the script on the same wheel gives the same arrays.
"""

from __future__ import annotations

import io
import sys
import zipfile
from pathlib import Path

import numpy as np

OUT = Path(__file__).resolve().parents[1] / "archive_builder" / "pixels" / "face_template.npz"
LICENCE = OUT.with_suffix(".LICENSE.txt")


def _load(wheel: zipfile.ZipFile, name: str) -> tuple[np.ndarray, np.ndarray]:
    import nibabel as nib

    image = nib.Nifti1Image.from_bytes(__import__("gzip").decompress(wheel.read(name)))
    return np.asanyarray(image.dataobj).astype(np.float32), image.affine


def build(wheel_path: Path) -> dict[str, np.ndarray]:
    from scipy import ndimage

    with zipfile.ZipFile(wheel_path) as wheel:
        head, affine = _load(wheel, "pydeface/data/mean_reg2mean.nii.gz")
        mask, _ = _load(wheel, "pydeface/data/facemask.nii.gz")
        licence = next(n for n in wheel.namelist() if n.endswith("LICENSE.txt"))
        LICENCE.write_bytes(wheel.read(licence))
    head2 = ndimage.zoom(head, 0.5, order=1)
    face = ndimage.zoom(mask, 0.5, order=1) < 0.5
    bright = head2 > 200
    core = ndimage.binary_erosion(bright, iterations=5)
    labels, count = ndimage.label(core)
    sizes = ndimage.sum(core, labels, range(1, count + 1))
    brain = ndimage.binary_dilation(labels == np.argmax(sizes) + 1, iterations=5) & bright
    brain = ndimage.binary_fill_holes(ndimage.binary_closing(brain, iterations=3))
    scale = np.diag([2.0, 2.0, 2.0, 1.0])
    ras_to_lps = np.diag([-1.0, -1.0, 1.0, 1.0])
    return {
        "head": np.clip(head2 / np.percentile(head2, 99.5) * 255, 0, 255).astype(np.uint8),
        "face": face,
        "brain": brain,
        "affine": ras_to_lps @ affine @ scale,
    }


def main() -> None:
    arrays = build(Path(sys.argv[1]))
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    OUT.write_bytes(buffer.getvalue())
    print(f"{OUT}: {len(buffer.getvalue())} bytes; brain {arrays['brain'].sum() * 8 / 1000:.0f} ml")


if __name__ == "__main__":
    main()
