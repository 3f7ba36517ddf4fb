"""Where a study's DICOM headers contradict its donation record (sex, age).

The record is what the donor's portal confirmed, so its values are published (in
the catalogs, the pages and the de-identified headers alike); a disagreement is
reported to the maintainer at ingest and kept in the private log, never published.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from pydicom.dataset import Dataset

from .record import DonationRecord

_AGE = re.compile(r"^(\d{3})Y$")


def _header_ages(headers: Iterable[Dataset]) -> set[int]:
    ages = set()
    for header in headers:
        found = _AGE.match(str(header.get("PatientAge", "") or "").strip().upper())
        if found:
            ages.add(min(int(found.group(1)), 90))
    return ages


def disagreements(record: DonationRecord, headers: Iterable[Dataset]) -> list[str]:
    """One sentence per attribute the headers give otherwise than the record (age within a year)."""
    headers = list(headers)
    notes = []
    sexes = {str(h.get("PatientSex", "") or "").strip().upper() for h in headers} - {""}
    if sexes and sexes != {record.sex}:
        said = "/".join(sorted(sexes))
        notes.append(f"sex: the record says {record.sex}, the DICOM header {said}")
    age = min(record.age_years, 90)
    ages = _header_ages(headers)
    if ages and all(abs(a - age) > 1 for a in ages):
        said = "/".join(str(a) for a in sorted(ages))
        notes.append(f"age: the record says {age}, the DICOM header {said}")
    return notes
