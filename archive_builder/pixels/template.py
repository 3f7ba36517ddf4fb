"""The head template that defacing registers to: pydeface's mean head and face mask
(MIT licence, see ``face_template.LICENSE.txt``), at 2 mm, with the brain of the
mean head (``tools/make_face_template.py`` makes the file)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np

TEMPLATE_FILE = Path(__file__).with_name("face_template.npz")
PAD = 20  # voxels (40 mm) added on every side: the face mask goes on past the template's box
BRAIN_MARGIN_MM = 8.0  # the brain, grown by this much, is never defaced


@dataclass(frozen=True)
class Template:
    head: np.ndarray  # (i, j, k) float32, 0-255; i to the patient's right, j front, k up
    face: np.ndarray  # bool: what defacing sets to air (the protected brain taken out)
    brain: np.ndarray  # bool: the brain of the mean head
    protected: np.ndarray  # bool: the brain grown by BRAIN_MARGIN_MM
    shell: np.ndarray  # bool: 12 mm around the brain, where a head's skull is
    affine: np.ndarray  # (i, j, k, 1) -> LPS mm, orthonormal directions

    @property
    def spacing(self) -> np.ndarray:
        return np.asarray(np.linalg.norm(self.affine[:3, :3], axis=0))


def _orthonormal(affine: np.ndarray) -> np.ndarray:
    """``affine`` with its directions made exactly orthonormal (the stored ones are off
    by a few hundredths of a degree), spacings kept."""
    spacing = np.linalg.norm(affine[:3, :3], axis=0)
    u, _, vt = np.linalg.svd(affine[:3, :3] / spacing)
    fixed = affine.copy()
    fixed[:3, :3] = (u @ vt) * spacing
    return fixed


@cache
def load_template() -> Template:
    from scipy import ndimage

    with np.load(TEMPLATE_FILE) as data:
        head = np.pad(data["head"].astype(np.float32), PAD)
        face = np.pad(data["face"], PAD, mode="edge")
        brain = np.pad(data["brain"], PAD)
        affine = _orthonormal(data["affine"])
    affine[:3, 3] -= affine[:3, :3] @ np.full(3, PAD)
    spacing = float(np.min(np.linalg.norm(affine[:3, :3], axis=0)))
    grow = int(np.ceil(BRAIN_MARGIN_MM / spacing))
    protected = ndimage.binary_dilation(brain, ndimage.generate_binary_structure(3, 1), grow)
    around = ndimage.binary_dilation(brain, ndimage.generate_binary_structure(3, 1), 6)
    return Template(head, face & ~protected, brain, protected, around & ~brain, affine)
