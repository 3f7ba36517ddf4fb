"""Which UIDs are the standard's own (kept) and which identify something (replaced).

A replaced UID is keyed archive-wide only when it names an object of the
donation itself (a study, a series, an instance, and references to them): those
are unique to the donation, and files and references stay consistent across
re-runs. Every other UID (a frame of reference, a synchronization frame of
reference shared by every device of a site, a concatenation, a dimension
organization, a file-set...) may be the same in the files of different
patients; keyed archive-wide, it would become one public UID linking their
donations. These are keyed per donor (``archive_wide`` is False).
"""

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


_ARCHIVE_WIDE = ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID", "SOPInstanceUIDInFile")


@cache
def archive_wide(keyword: str) -> bool:
    """Whether the UIDs of attribute ``keyword`` are keyed archive-wide (objects of the
    donation: Study, Series and SOP Instance UIDs, and references to them)."""
    return keyword.endswith(_ARCHIVE_WIDE)
