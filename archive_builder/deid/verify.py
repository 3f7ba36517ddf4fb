"""The last gate: search a de-identified file for anything of the original.

Run on every file before it is saved. It looks at every value at every depth,
the file meta and the encoded bytes outside the pixel data, for each
identifying value of the original header, and checks the structure the
profile promises (no private or overlay groups, keyed UIDs, identity removed).
"""

from __future__ import annotations

from io import BytesIO

from pydicom import dcmwrite
from pydicom.datadict import tag_for_keyword
from pydicom.dataelem import DataElement, RawDataElement
from pydicom.dataset import Dataset, FileDataset
from pydicom.filebase import DicomBytesIO
from pydicom.filewriter import write_data_element
from pydicom.uid import PYDICOM_IMPLEMENTATION_UID, UID

from .identifiers import Identifiers, walk_lazy
from .risk import PIXEL_KEYWORDS
from .uids import is_well_known


def _split(ds: FileDataset) -> tuple[FileDataset, list[DataElement | RawDataElement]]:
    head = FileDataset("", Dataset(), file_meta=ds.file_meta, preamble=ds.preamble)
    pixels: list[DataElement | RawDataElement] = []
    for tag in sorted(ds.keys()):
        elem = ds.get_item(tag)
        if tag in PIXEL_TAGS:
            pixels.append(elem)
        else:
            head[tag] = elem
    return head, pixels


def _write(ds: FileDataset) -> bytes:
    buffer = BytesIO()
    dcmwrite(buffer, ds, enforce_file_format=True)
    return buffer.getvalue()


PIXEL_TAGS = frozenset(tag_for_keyword(k) for k in PIXEL_KEYWORDS)


def header_bytes(ds: FileDataset) -> bytes:
    """The file as it is written, less its pixel data."""
    return _write(_split(ds)[0])


def encode(ds: FileDataset) -> tuple[bytes, bytes]:
    """The whole file as written, and its header (the same bytes less pixel data).

    The header is encoded once; the pixel data, which sorts last, is appended
    as it is (never re-encoded). Deflated files, whose bytes are compressed as
    a whole, are encoded twice instead.
    """
    head, pixels = _split(ds)
    header = _write(head)
    if not pixels:
        return header, header
    syntax = UID(ds.file_meta.TransferSyntaxUID)
    last_other = max(head.keys(), default=0)
    if syntax.is_deflated or last_other > pixels[0].tag:
        return _write(ds), header
    tail = DicomBytesIO()
    tail.is_little_endian = syntax.is_little_endian
    tail.is_implicit_VR = syntax.is_implicit_VR
    for elem in pixels:
        write_data_element(tail, elem)
    return header + tail.getvalue(), header


def find_leaks(ds: FileDataset, identifiers: Identifiers, encoded: bytes) -> list[str]:
    """Problems found in a de-identified dataset; empty when it is clean.

    Messages name the attribute and the kind of value, never the value.
    """
    problems: list[str] = []
    if str(ds.get("PatientIdentityRemoved", "")) != "YES":
        problems.append("Patient Identity Removed is not YES")
    for tag, elem in [*walk_lazy(ds.file_meta), *walk_lazy(ds)]:
        group = tag.group
        if tag.is_private:
            problems.append(f"private attribute {tag} survived")
        elif 0x5000 <= group <= 0x60FF and group & 0xFF00 in (0x5000, 0x6000):
            problems.append(f"curve or overlay attribute {tag} survived")
        if elem is None:
            continue  # numbers and binary data, kept undecoded: the header bytes are searched
        where = elem.keyword or str(elem.tag)
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
