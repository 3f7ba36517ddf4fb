"""Which UIDs are the standard's own (kept) and which identify something (replaced)."""

from __future__ import annotations

from functools import cache

from pydicom.uid import UID


@cache
def is_well_known(uid: str) -> bool:
    """Transfer syntaxes, SOP classes, coding schemes, well-known frames: never an instance.

    pydicom names every UID of the standard's registry (PS3.6 Annex A); an
    unknown UID's name is the UID itself. Only named UIDs are the standard's:
    anyone can write a UID under the standard's root (1.2.840.10008), so an
    unnamed one there is replaced like any other.
    """
    return UID(uid).name != uid
