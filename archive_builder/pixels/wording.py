"""The fixed texts that defacing writes into the de-identification report."""

from __future__ import annotations

METHOD = (
    "face removed: the face region of a head template (pydeface's mean head and face "
    "mask) fitted to the volume by affine registration (mutual information, SimpleITK) "
    "was set to air; the brain region, grown by 8 mm, was left unchanged"
)
CHECKED = (
    "checked: the face region holds only air, the brain region is unchanged, and face "
    "detectors (OpenCV) that found the face in renders of the original find none in "
    "renders of the result"
)
CHECKED_GEOMETRY = (
    "checked: the face region holds only air and the brain region is unchanged; face "
    "detectors (OpenCV) found no face in renders of the original either, so they "
    "decided nothing"
)
DEFACING_NOTES = frozenset({f"{METHOD}; {CHECKED}", f"{METHOD}; {CHECKED_GEOMETRY}"})
NO_FIT = "a face was found in renders of this volume, but the head template cannot be fitted to it"
NO_FIT_HEAD = (
    "the series is labelled as the head (Body Part Examined or description), but the head "
    "template cannot be fitted to it"
)
FAILED = "defacing or its check failed on this series, so it cannot be shown to hold no face"
SMALL_HEAD = (
    "the head is smaller than the adult head template can be shown to fit (a child's "
    "head), so its face cannot be shown to be removed"
)
NO_STORED_AIR = (
    "this CT's pixel format (Bits Stored, Pixel Representation, rescale) cannot hold air, "
    "so its face cannot be set to air"
)
FACE_LEFT = "a face detector still found a face in renders of the defaced volume"
FACE_REGION_LEFT = "the defaced volume still holds tissue in the face region"
BRAIN_TOUCHED = "defacing would change the brain region"

# Why a CT or MR series is not published (heads.py).
NOT_A_VOLUME = "a CT or MR series that cannot be checked for a face: {}"
LOCALIZER = "a localizer (acquired images in more than one plane) can show the outline of a face"
HEAD_PROFILE = "a sagittal or coronal image of the head can show the outline of a face"
FEW_HEAD_SLICES = (
    "a few slices of the head (too few to fit the head template) can show a face in 3D"
)
UNREADABLE = "a file of this series cannot be read in full"
# Every fixed reason: the gate does not search them (a donor called Head may donate).
DEFACING_REASONS = frozenset(
    {
        NO_FIT,
        NO_FIT_HEAD,
        FAILED,
        SMALL_HEAD,
        NO_STORED_AIR,
        FACE_LEFT,
        FACE_REGION_LEFT,
        BRAIN_TOUCHED,
        LOCALIZER,
        HEAD_PROFILE,
        FEW_HEAD_SLICES,
        UNREADABLE,
    }
)
