"""The defacing checks render from the stored integers (``faces.stored_grid``), not from
a float copy of the whole volume: the skin they render, and what the detectors
decide, must be what renders of the volume in physical units give, on the input
and on the defaced output, for CT and MR, with one rescale for the series and with
a rescale per slice."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from pydicom import dcmread

from archive_builder.demo_heads import make_head, write_series
from archive_builder.pixels.deface import deface
from archive_builder.pixels.faces import (
    face_seen,
    patient_grid,
    physical,
    stored_face_seen,
    stored_grid,
    thresholds,
)
from archive_builder.pixels.volume import Volume, read_volume


def _volume(tmp_path: Path, modality: str) -> Volume:
    head = make_head(modality, "axial", 3.0, (210.0, 240.0, 230.0))
    return read_volume([dcmread(p) for p in write_series(head, tmp_path / modality)])


def _same_skin(volume: Volume, stored: np.ndarray) -> None:
    data = physical(volume, stored)
    before, after = patient_grid(volume, data), stored_grid(volume, stored)
    assert np.array_equal(np.isfinite(before), np.isfinite(after))
    inside = np.isfinite(before)
    assert np.allclose(before[inside], after[inside], rtol=0, atol=1e-3)
    for threshold in thresholds(volume, data):
        assert np.array_equal(before > threshold, after > threshold), threshold


@pytest.mark.parametrize("modality", ["CT", "MR"])
def test_renders_from_stored_values_are_the_renders_of_physical_values(
    tmp_path: Path, modality: str
) -> None:
    volume = _volume(tmp_path, modality)
    result = deface(volume)
    assert result.stored is not None
    for stored in (volume.stored, result.stored):
        _same_skin(volume, stored)
    assert stored_face_seen(volume) and face_seen(volume, physical(volume))
    assert not stored_face_seen(volume, result.stored)
    assert not face_seen(volume, physical(volume, result.stored))


def test_slices_with_their_own_rescale_are_rendered_in_physical_units(tmp_path: Path) -> None:
    volume = _volume(tmp_path, "CT")
    shift = np.where(np.arange(len(volume.places)) % 2 == 0, 0, 100).astype(volume.stored.dtype)
    stored = volume.stored + shift[:, None, None]  # the same HU, stored 100 higher
    volume.intercept = volume.intercept - shift
    _same_skin(volume, stored)
    assert np.array_equal(
        stored_grid(volume, stored), patient_grid(volume, physical(volume, stored))
    )
