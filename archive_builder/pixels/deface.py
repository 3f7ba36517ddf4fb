"""Deface a head volume, and check the result before anything is published.

1. Look for a face: renders of the volume's skin from the front and both sides,
   run through OpenCV's face detectors (``faces``).
2. Fit the head template (pydeface's mean head) to the volume: an affine
   registration by mutual information (``register``). A volume that is no
   head once fitted (``register.is_head``: the outlines differ, or a CT has no
   skull around the brain, or an MR shares too little with the template) is
   published as it is, unless the detectors saw a face in it or its headers say
   it is a head (``labelled_head``), and then it is not published at all.
   A head smaller than ``register.MIN_SCALE`` of the template (a child's) is
   not published: the adult template's face is not shown to fit it.
3. Set the template's face region, carried onto the volume, to air (-1000 HU
   for CT, 0 for MR, as Bits Stored, Pixel Representation and the rescale can
   hold it: a CT that cannot hold air is not published), except the template's
   brain grown by 8 mm: the brain is never touched. The face mask goes on past
   the template's box (``template.PAD``): below the chin it reaches the front of
   the neck, and where the volume reaches lower (neck, shoulders) the front of
   what lies beneath the face is set to air as well; the brain region is never
   in it.
4. Check, on the pixel data as it will be written: every voxel of the whole
   registered face region (whatever defacing set) is background, every value
   fits Bits Stored, every voxel of the brain region is what it was (within the
   box of the volume that holds the face region, the brain's voxels; outside
   that box, every voxel: defacing changes nothing there, so the brain needs no
   mask there), and the detectors find no face in renders of the result. A
   volume that fails a check is not published. The masks are made and looked at
   within their boxes only; the renders are made from the stored integers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .faces import stored_face_seen, top_value
from .register import (
    MIN_SCALE,
    Box,
    RegistrationError,
    is_head,
    register,
    scale,
    subject_image,
    to_volume_box,
)
from .template import load_template
from .volume import Volume
from .wording import (
    BRAIN_TOUCHED,
    CHECKED,
    CHECKED_GEOMETRY,
    FACE_LEFT,
    FACE_REGION_LEFT,
    FAILED,
    NO_FIT,
    NO_FIT_HEAD,
    NO_STORED_AIR,
    SMALL_HEAD,
)

BACKGROUND_HU = -900.0
BACKGROUND_MR = 0.03


@dataclass(frozen=True)
class Defaced:
    """The outcome for a volume: ``stored`` is None when it is published as it is."""

    stored: np.ndarray | None = None
    excluded: str | None = None
    check: str | None = None
    face: np.ndarray | None = None  # the face region set to air, on the volume's voxels
    # the brain region, on the volume's voxels, where it meets ``region_box`` (outside
    # that box the output must equal the input: ``verify``)
    brain: np.ndarray | None = None
    region: np.ndarray | None = None  # the whole registered face region, as fitted
    region_box: Box | None = None  # the box of the volume holding the face region


def deface(volume: Volume, labelled_head: bool = False) -> Defaced:
    """Deface ``volume`` when it holds a head; see the module's text for the steps.

    ``labelled_head``: the headers say the series is of the head. Such a series that
    the template cannot be fitted to is not published, whatever the detectors saw
    (a detector misses faces: a cut nose tip, a head cradle in the field of view)."""
    template = load_template()
    seen = stored_face_seen(volume)
    try:
        moving = subject_image(volume)  # the volume at 4 mm, made once
        transform = register(template, volume, moving)
        head = is_head(template, volume, transform, moving)
    except RegistrationError:
        head = False
    if not head:
        if seen:
            return Defaced(excluded=NO_FIT)
        return Defaced(excluded=NO_FIT_HEAD) if labelled_head else Defaced()
    if scale(transform) < MIN_SCALE:
        return Defaced(excluded=SMALL_HEAD)
    if volume.modality == "CT" and np.any(
        volume.air() * volume.slope + volume.intercept > BACKGROUND_HU
    ):
        return Defaced(excluded=NO_STORED_AIR)
    region_box, region_inside = to_volume_box(template.face, template, volume, transform)
    # the brain only where it can meet the face region: everything else stays as it was
    brain_box, brain_inside = to_volume_box(
        template.brain, template, volume, transform, within=region_box
    )
    region = _whole(volume, region_box, region_inside)
    brain = _whole(volume, brain_box, brain_inside)
    if np.any(region[brain_box] & brain_inside):
        return Defaced(excluded=BRAIN_TOUCHED)
    # air stays as it was: its noise hides the mask's edge
    face_inside = region_inside & ~background(volume, box=region_box)
    face = _whole(volume, region_box, face_inside)
    stored = volume.stored.copy()
    air = np.broadcast_to(volume.air().astype(stored.dtype)[:, None, None], stored.shape)
    stored[region_box][face_inside] = air[region_box][face_inside]
    check = CHECKED if seen else CHECKED_GEOMETRY
    return Defaced(stored, None, check, face, brain, region, region_box)


def _whole(volume: Volume, box: Box, inside: np.ndarray) -> np.ndarray:
    """A mask on the volume's voxels from its box and the mask within it."""
    mask = np.zeros(volume.stored.shape, bool)
    mask[box] = inside
    return mask


def background(
    volume: Volume, stored: np.ndarray | None = None, box: Box | None = None
) -> np.ndarray:
    """The voxels that are air already: below -900 HU for CT, below 3% of the 99.5th
    percentile for MR (the skin renders at 6% and above, and the percentile is the
    volume's own, as read). Within ``box`` of the volume only, when given."""
    level = BACKGROUND_HU if volume.modality == "CT" else BACKGROUND_MR * top_value(volume)
    stored = volume.stored if stored is None else stored
    limit = (level - volume.intercept) / volume.slope  # in stored units, slice by slice
    slope = volume.slope
    if box is not None:
        stored, limit, slope = stored[box], limit[box[0]], slope[box[0]]
    below = np.asarray(stored < limit[:, None, None])
    if np.all(slope > 0):
        return below
    return np.asarray(np.where(slope[:, None, None] > 0, below, ~below))


def verify(volume: Volume, result: Defaced, written: np.ndarray) -> str | None:
    """Why the defaced volume, as ``written`` (decoded back from the new pixel data),
    must not be published; None when it passes every check."""
    assert result.face is not None and result.brain is not None and result.region is not None
    whole = (slice(None),) * 3
    box = whole if result.region_box is None else result.region_box
    low, high = volume.stored_range()
    if written.size and (int(written.min()) < low or int(written.max()) > high):
        return FACE_REGION_LEFT  # a value Bits Stored cannot hold: no reader sees it as air
    # the face region lies within its box (``register.to_volume_box``): looked at there
    air = np.broadcast_to(volume.air()[:, None, None], written.shape)[box]
    face = result.face[box]
    if not np.array_equal(written[box][face], air[face]):
        return FACE_REGION_LEFT
    region = result.region[box]
    if not np.all(background(volume, written, box)[region]):  # the whole face region
        return FACE_REGION_LEFT
    # the brain unchanged: within the box, its voxels; outside it, every voxel
    brain = result.brain[box]
    if not np.array_equal(written[box][brain], volume.stored[box][brain]):
        return BRAIN_TOUCHED
    if not _same_outside(written, volume.stored, box):
        return FAILED  # defacing changes nothing outside the face region's box
    if stored_face_seen(volume, written):
        return FACE_LEFT
    return None


def _same_outside(a: np.ndarray, b: np.ndarray, box: Box) -> bool:
    """Whether ``a`` and ``b`` hold the same values everywhere outside ``box``: the
    slabs before and after the box along each axis, within the box along the axes
    before it, cover the rest of the volume once."""
    for axis in range(3):
        start, stop = box[axis].start or 0, box[axis].stop
        inside = tuple(box[:axis])
        for part in (slice(0, start), slice(stop, None) if stop is not None else slice(0, 0)):
            if not np.array_equal(a[(*inside, part)], b[(*inside, part)]):
                return False
    return True


__all__ = ["Defaced", "deface", "verify"]
