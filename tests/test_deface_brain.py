"""The brain check looks at the brain's voxels where the face region's box is, and at
every voxel outside that box (defacing changes nothing there): a changed voxel of
the brain anywhere, and any changed voxel outside the box, holds the volume back."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from pydicom import dcmread

from archive_builder.demo_heads import make_head, write_series
from archive_builder.pixels.deface import deface, verify
from archive_builder.pixels.wording import BRAIN_TOUCHED


def _outside(box: tuple[slice, slice, slice], shape: tuple[int, ...]) -> np.ndarray:
    mask = np.ones(shape, bool)
    mask[box] = False
    return mask


def test_a_changed_voxel_of_the_brain_or_outside_the_face_box_is_held_back(
    tmp_path: Path,
) -> None:
    from archive_builder.pixels.volume import read_volume

    head = make_head("MR", "axial", 3.5, (200.0, 240.0, 230.0))
    volume = read_volume([dcmread(p) for p in write_series(head, tmp_path / "mr")])
    result = deface(volume)
    assert result.stored is not None and result.region_box is not None
    assert result.brain is not None
    assert verify(volume, result, result.stored) is None
    outside = _outside(result.region_box, volume.stored.shape)
    far_brain = np.argwhere(head.brain & outside)  # brain far from the face
    near_brain = np.argwhere(result.brain)  # brain within the face region's box
    scalp = np.argwhere(~head.brain & ~head.face & outside & (volume.stored > 100))
    assert len(far_brain) and len(near_brain) and len(scalp)
    for voxels, reason in ((far_brain, None), (near_brain, BRAIN_TOUCHED), (scalp, None)):
        written = result.stored.copy()
        written[tuple(voxels[len(voxels) // 2])] += 1
        problem = verify(volume, result, written)
        assert problem is not None
        assert reason is None or problem == reason
