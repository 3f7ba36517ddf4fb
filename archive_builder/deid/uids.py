"""Which UIDs are the standard's own (kept) and which identify something (replaced)."""

from __future__ import annotations

from functools import cache

from pydicom.uid import UID_dictionary

DICOM_ROOT = "1.2.840.10008."


@cache
def is_well_known(uid: str) -> bool:
    """Transfer syntaxes, SOP classes, coding schemes, well-known frames: never an instance."""
    return uid in UID_dictionary or uid.startswith(DICOM_ROOT)
