"""Which UIDs are the standard's own (kept) and which identify something (replaced)."""

from __future__ import annotations

from functools import cache

from pydicom.uid import UID

DICOM_ROOT = "1.2.840.10008."


@cache
def is_well_known(uid: str) -> bool:
    """Transfer syntaxes, SOP classes, coding schemes, well-known frames: never an instance.

    pydicom names every UID of the standard's registry (PS3.6 Annex A); an
    unknown UID's name is the UID itself.
    """
    return uid.startswith(DICOM_ROOT) or UID(uid).name != uid
