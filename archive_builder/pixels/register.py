"""Fit the head template to a volume: an affine registration by mutual information
(SimpleITK), at 4 mm, so that CT and MR both fit and a volume takes seconds.

Volumes and the template meet in patient coordinates (LPS, mm); SimpleITK
images are built from numpy arrays indexed (slice, row, column), that is
(z, y, x) for SimpleITK.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import SimpleITK as sitk

from .template import Template
from .volume import Volume

REGISTRATION_MM = 4.0
CT_RANGE = (-1000.0, 1500.0)  # HU kept for registration: air to bone
MIN_FIT = 0.9  # Dice of the head outlines, in the volume's field of view, to call it a head
MIN_SKULL = 0.1  # share of skull around the template's brain: above 300 HU for CT, dark for MR
MR_DARK = 0.15  # of the 99.5th percentile: cortical bone gives no MR signal
MIN_MR_NMI = 1.2  # normalised mutual information with the template (T1-weighted heads)
# The template's size change that registration may find, as a volume ratio: a newborn's
# head (about 35 cm around against an adult's 56 cm: 0.62 across, 0.24 in volume) up to
# 2. Heads below MIN_SCALE across (0.79, the smallest the test heads verify at) are
# fitted, so that they are known to be heads, and then not published (``deface``).
VOLUME_RATIO = (0.2, 2.0)
MIN_SCALE = 0.79


class RegistrationError(RuntimeError):
    """The template cannot be fitted to the volume."""


def image(array: np.ndarray, affine: np.ndarray) -> sitk.Image:
    """A SimpleITK image of ``array`` (indexed k, j, i) whose voxel (i, j, k) is at
    ``affine`` @ (i, j, k, 1)."""
    spacing = np.linalg.norm(affine[:3, :3], axis=0)
    result = sitk.GetImageFromArray(array)
    result.SetSpacing([float(s) for s in spacing])
    result.SetOrigin([float(v) for v in affine[:3, 3]])
    result.SetDirection([float(v) for v in (affine[:3, :3] / spacing).ravel()])
    return result


def values(volume: Volume, slices: slice = slice(None)) -> np.ndarray:
    """The volume's voxels (of ``slices`` only, when given) in physical units (HU for
    CT), float32."""
    data = volume.stored[slices].astype(np.float32)
    data *= volume.slope[slices, None, None].astype(np.float32)
    data += volume.intercept[slices, None, None].astype(np.float32)
    return data


SLAB = 32  # slices (about) made into floats at a time for the registration's copy


def subject_image(volume: Volume) -> sitk.Image:
    """The volume at about REGISTRATION_MM, intensities clipped for CT: averages of
    whole bins of voxels (BinShrink), made slab by slab of whole bins, so that no
    float copy of the whole volume is made (two of them cost a 512x512x300 CT 0.6 s);
    each bin is averaged as it would be in the whole volume."""
    spacing = np.linalg.norm(volume.affine[:3, :3], axis=0)
    factors = [max(1, round(REGISTRATION_MM / float(s))) for s in spacing]
    step = factors[2] * max(1, SLAB // factors[2])
    bins = len(volume.stored) // factors[2] * factors[2]  # BinShrink drops a partial bin
    parts: list[sitk.Image] = []
    for start in range(0, max(bins, 1), step):
        slices = slice(start, min(start + step, bins) if bins else None)
        data = values(volume, slices)
        if volume.modality == "CT":
            np.clip(data, *CT_RANGE, out=data)
        affine = volume.affine.copy()
        affine[:3, 3] = volume.affine[:3, :3] @ np.array([0.0, 0.0, start]) + volume.affine[:3, 3]
        part = image(data, affine)
        parts.append(sitk.BinShrink(part, factors) if max(factors) > 1 else part)
    if len(parts) == 1:
        return parts[0]
    joined = image(np.concatenate([sitk.GetArrayViewFromImage(p) for p in parts]), np.eye(4))
    joined.SetOrigin(parts[0].GetOrigin())
    joined.SetSpacing(parts[0].GetSpacing())
    joined.SetDirection(parts[0].GetDirection())
    return joined


def template_image(template: Template) -> sitk.Image:
    full = image(template.head.transpose(2, 1, 0).copy(), template.affine)
    factors = [max(1, round(REGISTRATION_MM / s)) for s in full.GetSpacing()]
    return sitk.BinShrink(full, factors)


def _method(
    transform: sitk.Transform, shrink: list[int], sigmas: list[float], outlines: bool = False
) -> Any:
    method = sitk.ImageRegistrationMethod()
    if outlines:
        method.SetMetricAsMeanSquares()
    else:
        method.SetMetricAsMattesMutualInformation(numberOfHistogramBins=32)
    method.SetMetricSamplingStrategy(method.REGULAR)
    method.SetMetricSamplingPercentage(0.15, seed=1)
    method.SetInterpolator(sitk.sitkLinear)
    method.SetOptimizerAsRegularStepGradientDescent(
        learningRate=1.0, minStep=1e-3, numberOfIterations=60, gradientMagnitudeTolerance=1e-6
    )
    method.SetOptimizerScalesFromPhysicalShift()
    method.SetShrinkFactorsPerLevel(shrink)
    method.SetSmoothingSigmasPerLevel(sigmas)
    method.SmoothingSigmasAreSpecifiedInPhysicalUnitsOn()
    method.SetInitialTransform(transform, inPlace=True)
    method.SetNumberOfThreads(2)
    return method


def register(
    template: Template, volume: Volume, moving: sitk.Image | None = None
) -> sitk.AffineTransform:
    """The affine transform from template to volume coordinates (SimpleITK's direction:
    it maps a point of the template, the fixed image, to the volume). Raises
    RegistrationError when the optimiser fails."""
    fixed = template_image(template)
    moving = subject_image(volume) if moving is None else moving
    try:
        # first the outlines of the heads (whatever the contrast), then the intensities
        fixed_outline = sitk.Cast(fixed > 20, sitk.sitkFloat32)
        moving_outline = sitk.Cast(_foreground(moving, volume.modality), sitk.sitkFloat32)
        start = sitk.CenteredTransformInitializer(
            fixed_outline,
            moving_outline,
            sitk.Similarity3DTransform(),
            sitk.CenteredTransformInitializerFilter.MOMENTS,
        )
        rigid = sitk.Similarity3DTransform(start)
        _method(rigid, [4, 2], [8.0, 4.0], True).Execute(fixed_outline, moving_outline)
        affine = sitk.AffineTransform(3)
        affine.SetMatrix(rigid.GetMatrix())
        affine.SetTranslation(rigid.GetTranslation())
        affine.SetCenter(rigid.GetCenter())
        _method(affine, [2, 1], [4.0, 2.0], True).Execute(fixed_outline, moving_outline)
        _method(affine, [1], [2.0]).Execute(fixed, moving)
    except RuntimeError:
        raise RegistrationError("the head template cannot be fitted to it") from None
    matrix = np.array(affine.GetMatrix()).reshape(3, 3)
    if not np.all(np.isfinite(matrix)) or not 0.2 < abs(np.linalg.det(matrix)) < 2.0:
        raise RegistrationError("the head template cannot be fitted to it")
    return affine


def scale(transform: sitk.Transform) -> float:
    """How large the volume's head is against the template's, across (the cube root of
    the fitted affine's determinant)."""
    matrix = np.array(transform.GetMatrix()).reshape(3, 3)
    return float(abs(np.linalg.det(matrix)) ** (1 / 3))


def _foreground(moving: sitk.Image, modality: str) -> sitk.Image:
    if modality == "CT":
        return moving > -400
    array = sitk.GetArrayViewFromImage(moving)
    return moving > float(np.percentile(array, 99.5)) * 0.08


def fit(
    template: Template,
    volume: Volume,
    transform: sitk.Transform,
    moving: sitk.Image | None = None,
) -> float:
    """How well the fitted template's head outline matches the volume's (Dice, within
    the volume's field of view)."""
    moving = subject_image(volume) if moving is None else moving
    reference = template_image(template)
    ones = sitk.Image(moving.GetSize(), sitk.sitkUInt8) + 1
    ones.CopyInformation(moving)
    inside = sitk.Resample(ones, reference, transform, sitk.sitkNearestNeighbor, 0)
    subject = sitk.Resample(
        _foreground(moving, volume.modality), reference, transform, sitk.sitkNearestNeighbor, 0
    )
    a = sitk.GetArrayFromImage(subject).astype(bool)
    b = sitk.GetArrayFromImage(reference > 20).astype(bool)
    seen = sitk.GetArrayFromImage(inside).astype(bool)
    a, b = a & seen, b & seen
    total = int(a.sum()) + int(b.sum())
    return 2.0 * int((a & b).sum()) / total if total else 0.0


def _nmi(a: np.ndarray, b: np.ndarray) -> float:
    """Normalised mutual information of two samples, (H(a) + H(b)) / H(a, b)."""
    joint, _, _ = np.histogram2d(a, b, bins=32)
    p = joint / max(float(joint.sum()), 1.0)

    def entropy(q: np.ndarray) -> float:
        q = q[q > 0]
        return float(-np.sum(q * np.log(q)))

    together = entropy(p)
    return (entropy(p.sum(axis=1)) + entropy(p.sum(axis=0))) / together if together else 0.0


def is_head(
    template: Template,
    volume: Volume,
    transform: sitk.Transform,
    moving: sitk.Image | None = None,
) -> bool:
    """Whether the fitted template is a head in the volume: the head outlines match
    (``fit``), and around the template's brain the volume has a skull: bone for CT,
    voxels without signal for MR, or else MR intensities that share much information
    with the template's (a T1-weighted head). An ellipse or a limb fits an outline,
    but has no skull and no brain."""
    moving = subject_image(volume) if moving is None else moving
    if fit(template, volume, transform, moving) < MIN_FIT:
        return False
    reference = template_image(template)
    moved = sitk.Resample(moving, reference, transform, sitk.sitkLinear, np.nan)
    data = sitk.GetArrayFromImage(moved)
    seen = np.isfinite(data)
    shell = to_template_grid(template.shell, template, reference) & seen
    if not shell.any():
        return False
    if volume.modality == "CT":
        return float(np.mean(data[shell] > 300)) >= MIN_SKULL
    dark = MR_DARK * float(np.percentile(data[seen], 99.5))
    if float(np.mean(data[shell] < dark)) >= MIN_SKULL:
        return True
    head = sitk.GetArrayFromImage(reference)
    inside = seen & (head > 20)
    return _nmi(head[inside], data[inside]) >= MIN_MR_NMI


def to_template_grid(mask: np.ndarray, template: Template, reference: sitk.Image) -> np.ndarray:
    """A template mask (i, j, k) on the registration grid of the template (k, j, i)."""
    source = image(mask.transpose(2, 1, 0).astype(np.float32).copy(), template.affine)
    moved = sitk.Resample(source, reference, sitk.Transform(), sitk.sitkLinear, 0.0)
    return np.asarray(sitk.GetArrayFromImage(moved)) >= 0.5


def to_volume(
    mask: np.ndarray, template: Template, volume: Volume, transform: sitk.Transform
) -> np.ndarray:
    """A template mask (i, j, k) carried onto the volume's voxels (slice, row, column):
    linear interpolation, kept where at least a quarter of a voxel is in the mask."""
    result = np.zeros(volume.stored.shape, bool)
    box, inside = to_volume_box(mask, template, volume, transform)
    result[box] = inside
    return result


Box = tuple[slice, slice, slice]


def to_volume_box(
    mask: np.ndarray,
    template: Template,
    volume: Volume,
    transform: sitk.Transform,
    within: Box | None = None,
) -> tuple[Box, np.ndarray]:
    """``to_volume`` as the box of the volume (slice, row, column) that can hold the mask,
    and the mask within it: every voxel outside the box is at least a voxel from the
    mask's own box, so outside the mask either way. Only the box is resampled, and
    only where it meets ``within`` (a box of the volume) when that is given."""
    empty = (slice(0, 0),) * 3
    found = np.argwhere(mask)
    if not len(found):
        return empty, np.zeros((0, 0, 0), bool)
    low = np.maximum(found.min(axis=0) - 1, 0)
    high = np.minimum(found.max(axis=0) + 2, mask.shape)
    cropped = mask[low[0] : high[0], low[1] : high[1], low[2] : high[2]]
    affine = template.affine.copy()
    affine[:3, 3] = template.affine[:3, :3] @ low + template.affine[:3, 3]
    source = image(cropped.transpose(2, 1, 0).astype(np.float32), affine)
    corners = np.array([[a, b, c] for a in (0, 1) for b in (0, 1) for c in (0, 1)])
    points = affine[:3, :3] @ (corners * (high - low - 1)).T + affine[:3, 3:4]
    moved = np.array([transform.TransformPoint([float(v) for v in p]) for p in points.T])
    index = np.linalg.solve(volume.affine[:3, :3], (moved - volume.affine[:3, 3]).T)
    size = np.array(volume.stored.shape[::-1])  # column, row, slice
    start = np.clip(np.floor(index.min(axis=1)).astype(int) - 2, 0, size)
    stop = np.clip(np.ceil(index.max(axis=1)).astype(int) + 3, 0, size)
    if within is not None:  # (slice, row, column) against (column, row, slice)
        start = np.maximum(start, [int(within[a].start or 0) for a in (2, 1, 0)])
        limit = [size[2 - a] if within[a].stop is None else within[a].stop for a in (2, 1, 0)]
        stop = np.minimum(stop, limit)
    if np.any(stop <= start):
        return empty, np.zeros((0, 0, 0), bool)
    spacing = np.linalg.norm(volume.affine[:3, :3], axis=0)
    origin = volume.affine[:3, :3] @ start + volume.affine[:3, 3]
    resampled = sitk.Resample(  # no reference image: its buffer would be allocated too
        source,
        size=[int(n) for n in stop - start],
        transform=transform.GetInverse(),
        interpolator=sitk.sitkLinear,
        outputOrigin=[float(v) for v in origin],
        outputSpacing=[float(s) for s in spacing],
        outputDirection=[float(v) for v in (volume.affine[:3, :3] / spacing).ravel()],
        defaultPixelValue=0.0,
        outputPixelType=sitk.sitkFloat32,
    )
    box = (slice(start[2], stop[2]), slice(start[1], stop[1]), slice(start[0], stop[0]))
    return box, np.asarray(sitk.GetArrayViewFromImage(resampled) >= 0.25)
