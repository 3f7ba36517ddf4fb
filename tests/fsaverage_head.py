"""A head that is not the template: FreeSurfer's fsaverage head and inner skull surfaces,
as the ``mne`` package ships them, filled into an MR-like volume (scalp bright, skull
dark, brain textured)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from scipy import ndimage

from archive_builder.demo_heads import Head


def _surface(name: str) -> tuple[np.ndarray, np.ndarray]:
    import mne

    path = Path(mne.__file__).parent / "data" / "fsaverage" / name
    (surface,) = mne.read_bem_surfaces(path, verbose=False)
    lps = surface["rr"] * 1000 * np.array([-1.0, -1.0, 1.0])  # RAS metres -> LPS mm
    return lps, surface["tris"]


def _filled(
    points: np.ndarray, triangles: np.ndarray, affine: np.ndarray, shape: tuple
) -> np.ndarray:
    """The inside of a closed surface on the grid (slice, row, column) of ``affine``."""
    steps = np.linspace(0, 1, 12)
    a, b = np.meshgrid(steps, steps)
    keep = a + b <= 1
    a, b = a[keep], b[keep]
    corners = points[triangles]  # (triangles, 3, 3)
    samples = (
        corners[:, None, 0] * (1 - a - b)[None, :, None]
        + corners[:, None, 1] * a[None, :, None]
        + corners[:, None, 2] * b[None, :, None]
    ).reshape(-1, 3)
    index = np.linalg.solve(affine[:3, :3], (samples - affine[:3, 3]).T)
    column, row, plane = np.round(index).astype(int)
    inside = (plane >= 0) & (plane < shape[0]) & (row >= 0) & (row < shape[1])
    inside &= (column >= 0) & (column < shape[2])
    shell = np.zeros(shape, bool)
    shell[plane[inside], row[inside], column[inside]] = True
    shell = ndimage.binary_closing(shell, iterations=1)
    return ndimage.binary_fill_holes(shell)


def fsaverage_head(spacing: float = 3.0, seed: int = 3) -> Head:
    head_points, head_triangles = _surface("fsaverage-head.fif")
    skull_points, skull_triangles = _surface("fsaverage-inner_skull-bem.fif")
    low, high = head_points.min(axis=0) - 10, head_points.max(axis=0) + 10
    low[2] = high[2] - 240  # down to the chin and a little neck
    shape = tuple(int(n) for n in np.ceil((high - low) / spacing)[::-1])  # slices, rows, columns
    affine = np.diag([spacing, spacing, spacing, 1.0])
    affine[:3, 3] = low
    head = _filled(head_points, head_triangles, affine, shape)
    brain = _filled(skull_points, skull_triangles, affine, shape)
    rng = np.random.default_rng(seed)
    texture = ndimage.gaussian_filter(rng.normal(0, 1, shape), 1.5)
    depth = ndimage.distance_transform_edt(head) * spacing
    values = np.where(head, 80.0, 0.0)
    values[head & (depth < 6)] = 650.0  # scalp and fat
    values[brain] = 420.0 + 120 * texture[brain] / texture.std()
    values = np.clip(values + rng.normal(0, 10, shape), 0, None)
    return Head(values, affine, brain, np.zeros(shape, bool), "MR")
