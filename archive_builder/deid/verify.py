"""The last gate: search a de-identified file for anything of the original.

Run on every file before it is saved. It looks at every value at every depth,
the file meta and the encoded bytes outside the pixel data, for each
identifying value of the original header, and checks the structure the
profile promises (no private or overlay groups, keyed UIDs, identity removed).
"""

from __future__ import annotations

from io import BytesIO

from pydicom import dcmwrite
from pydicom.dataset import Dataset, FileDataset
from pydicom.uid import PYDICOM_IMPLEMENTATION_UID

from .identifiers import Identifiers, walk
from .risk import PIXEL_KEYWORDS
from .uids import is_well_known


def header_bytes(ds: FileDataset) -> bytes:
    """The file as it is written, less its pixel data."""
    head = FileDataset("", Dataset(), file_meta=ds.file_meta, preamble=ds.preamble)
    for elem in ds:
        if elem.keyword not in PIXEL_KEYWORDS:
            head.add(elem)
    buffer = BytesIO()
    dcmwrite(buffer, head, enforce_file_format=True)
    return buffer.getvalue()


def find_leaks(ds: FileDataset, identifiers: Identifiers, encoded: bytes) -> list[str]:
    """Problems found in a de-identified dataset; empty when it is clean.

    Messages name the attribute and the kind of value, never the value.
    """
    problems: list[str] = []
    if str(ds.get("PatientIdentityRemoved", "")) != "YES":
        problems.append("Patient Identity Removed is not YES")
    for elem in [*walk(ds.file_meta), *walk(ds)]:
        where = elem.keyword or str(elem.tag)
        group = elem.tag.group
        if elem.tag.is_private:
            problems.append(f"private attribute {elem.tag} survived")
        elif 0x5000 <= group <= 0x60FF and group & 0xFF00 in (0x5000, 0x6000):
            problems.append(f"curve or overlay attribute {elem.tag} survived")
        if elem.VR == "UI" and elem.value:
            values = elem.value if isinstance(elem.value, list | tuple) else [elem.value]
            for value in map(str, values):
                if not (
                    is_well_known(value)
                    or value.startswith("2.25.")
                    or (
                        elem.keyword == "ImplementationClassUID"
                        and value == PYDICOM_IMPLEMENTATION_UID
                    )
                ):
                    problems.append(f"{where}: a UID that is neither well known nor keyed")
        if elem.VR in ("SQ", "OB", "OW", "OF", "OD", "OL", "OV", "UN") or elem.value is None:
            continue
        if elem.keyword in PIXEL_KEYWORDS:
            continue
        if identifiers.find(str(elem.value)):
            problems.append(f"{where}: holds an identifying value of the original")
    if not problems and identifiers.find(encoded.decode("latin-1")):
        problems.append("the encoded header holds an identifying value of the original")
    return problems
