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
FACE_LEFT = "a face detector still found a face in renders of the defaced volume"
FACE_REGION_LEFT = "the defaced volume still holds tissue in the face region"
BRAIN_TOUCHED = "defacing would change the brain region"
