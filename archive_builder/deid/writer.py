"""Encode a de-identified header, copying the bytes of every element kept as read.

pydicom's writer takes each element through its general path (a buffer, a
length check, a character set lookup), which costs more than the rest of
de-identification for a header of a few hundred elements. Most of a
de-identified header is kept unchanged and was read in the encoding it is
written in, so here such an element is its tag, VR and length followed by
the bytes as read; sequences and their items get defined lengths, as pydicom
writes them. New ASCII text values (keyed UIDs, shifted dates, dummies) are
padded and written as pydicom writes them; every other element is handed to
pydicom's own ``write_data_element``. A test checks every de-identified file of
the corpus byte for byte against pydicom's writer. A dataset read in another
encoding or character set than it is written in is written by pydicom as a
whole (it then decodes and re-encodes every element).
"""

from __future__ import annotations

import codecs
import struct
from functools import cache

from pydicom.charset import convert_encodings, default_encoding
from pydicom.dataelem import DataElement, RawDataElement
from pydicom.dataset import Dataset, FileDataset, FileMetaDataset, validate_file_meta
from pydicom.filebase import DicomBytesIO
from pydicom.filewriter import write_data_element, write_dataset
from pydicom.multival import MultiValue
from pydicom.uid import UID
from pydicom.valuerep import EXPLICIT_VR_LENGTH_32

_UNDEFINED = 0xFFFFFFFF
_GROUP_LENGTH = 0x00020000
_ITEM, _ITEM_END, _SEQUENCE_END = 0xFFFEE000, 0xFFFEE00D, 0xFFFEE0DD


class _Encoder:
    def __init__(self, implicit_vr: bool, little_endian: bool):
        order = "<" if little_endian else ">"
        self.implicit_vr = implicit_vr
        self.little_endian = little_endian
        self.implicit = struct.Struct(order + "HHL")  # tag, 32-bit length
        self.short = struct.Struct(order + "HH2sH")  # tag, VR, 16-bit length
        self.long = struct.Struct(order + "HH2s2xL")  # tag, VR, reserved, 32-bit length

    def head(self, tag: int, vr: str | None, length: int) -> bytes:
        group, element = tag >> 16, tag & 0xFFFF
        if self.implicit_vr or vr is None:
            return self.implicit.pack(group, element, length)
        if vr in EXPLICIT_VR_LENGTH_32:
            return self.long.pack(group, element, vr.encode("ascii"), length)
        return self.short.pack(group, element, vr.encode("ascii"), length)

    def marker(self, tag: int, length: int = 0) -> bytes:
        return self.implicit.pack(tag >> 16, tag & 0xFFFF, length)

    def dataset(self, ds: Dataset, encodings: list[str]) -> bytes:
        if "SpecificCharacterSet" in ds:
            encodings = convert_encodings(ds.SpecificCharacterSet)
        if not _as_read(ds, self.implicit_vr, self.little_endian) and _needs_decoding(ds):
            buffer = self.buffer()
            write_dataset(buffer, ds, encodings)
            return buffer.getvalue()
        chunks: list[bytes] = []
        for tag in sorted(ds.keys()):
            if tag & 0xFFFF == 0 and tag >> 16 > 6:
                continue  # retired group length, not written (PS3.5 7.2), as pydicom does
            elem: DataElement | RawDataElement = ds.get_item(tag)
            if isinstance(elem, RawDataElement):
                value = elem.value
                if value is not None and elem.length != _UNDEFINED and self._simple(elem.VR):
                    chunks.append(self.head(tag, elem.VR, len(value)))
                    chunks.append(value)
                    continue
            elif elem.VR == "SQ" and not elem.is_undefined_length:
                chunks.append(self.sequence(elem, encodings))
                continue
            chunks.append(self.element(elem, encodings))
        return b"".join(chunks)

    def _simple(self, vr: str | None) -> bool:
        return self.implicit_vr or (vr is not None and len(vr) == 2)

    def sequence(self, elem: DataElement, encodings: list[str]) -> bytes:
        """A sequence of defined length, with items of defined length (as pydicom writes
        a sequence it did not read with undefined lengths)."""
        items = []
        for item in elem.value or ():
            if item.get("is_undefined_length_sequence_item", False):
                return self.element(elem, encodings)
            body = self.dataset(item, encodings)
            items.append(self.marker(_ITEM, len(body)) + body)
        value = b"".join(items)
        return self.head(elem.tag, "SQ", len(value)) + value

    def buffer(self) -> DicomBytesIO:
        buffer = DicomBytesIO()
        buffer.is_implicit_VR, buffer.is_little_endian = self.implicit_vr, self.little_endian
        return buffer

    def element(self, elem: DataElement | RawDataElement, encodings: list[str]) -> bytes:
        if isinstance(elem, DataElement):
            value = _ascii_value(elem, encodings)
            if value is not None and (
                self.implicit_vr or elem.VR in EXPLICIT_VR_LENGTH_32 or len(value) <= 0xFFFF
            ):
                return self.head(elem.tag, elem.VR, len(value)) + value
        buffer = self.buffer()
        write_data_element(buffer, elem, encodings)
        return buffer.getvalue()


# Written by pydicom as ASCII text whatever the character set, and written with the
# character set: ASCII text is the same bytes in every character set pydicom can write
# without code extensions.
_STRING_VRS = frozenset({"AE", "AS", "CS", "DA", "DT", "TM", "UI", "UR"})
_TEXT_VRS = frozenset({"LO", "SH", "LT", "ST", "UT", "UC"})


@cache
def _ascii_compatible(encodings: tuple[str, ...]) -> bool:
    try:
        names = {codecs.lookup(encoding).name for encoding in encodings}
    except LookupError:
        return False
    return names <= {"iso8859-1", "utf-8", "ascii"}


def _ascii_value(elem: DataElement, encodings: list[str]) -> bytes | None:
    """The encoded value of an empty element or of a text element holding ASCII strings
    only, padded as pydicom pads it; None for any other element (pydicom encodes those)."""
    vr, value = elem.VR, elem.value
    if value is None and vr != "SQ":
        return b""  # an empty value, whatever the VR
    if vr not in _STRING_VRS and (vr not in _TEXT_VRS or not _ascii_compatible(tuple(encodings))):
        return None
    if isinstance(value, str):
        text = value
    elif isinstance(value, list | MultiValue) and all(isinstance(v, str) for v in value):
        text = "\\".join(value)
    else:
        return None
    if not text.isascii():
        return None
    if len(text) % 2:
        text += "\0" if vr == "UI" else " "
    return text.encode("ascii")


def _needs_decoding(ds: Dataset) -> bool:
    """Whether pydicom would change an element of ``ds`` before writing it in another
    encoding: raw elements are decoded, ambiguous VRs resolved (a dataset built here,
    holding only new elements, has no encoding of its own and needs neither)."""
    return any(
        isinstance(elem, RawDataElement) or (elem.VR and " or " in elem.VR)
        for elem in map(ds.get_item, ds.keys())
    )


def _as_read(ds: Dataset, implicit_vr: bool, little_endian: bool) -> bool:
    """Whether ``ds`` is written in the encoding and character set it was read with."""
    return (
        ds.original_encoding == (implicit_vr, little_endian)
        and ds.original_character_set == ds._character_set
    )


def element_head(
    tag: int, vr: str | None, length: int, implicit_vr: bool, little_endian: bool
) -> bytes:
    """The tag, VR and length that precede an element's value in the given encoding."""
    return _Encoder(implicit_vr, little_endian).head(tag, vr, length)


def encode_file(ds: FileDataset) -> bytes:
    """The file ``ds`` as pydicom writes it (preamble, file meta, dataset), for a transfer
    syntax that is not deflated."""
    syntax = UID(ds.file_meta.TransferSyntaxUID)
    encoder = _Encoder(syntax.is_implicit_VR, syntax.is_little_endian)
    body = encoder.dataset(ds, convert_encodings(ds.original_character_set))
    return (ds.preamble or b"\0" * 128) + b"DICM" + _file_meta(ds.file_meta) + body


def _file_meta(meta: FileMetaDataset) -> bytes:
    """The File Meta Information as pydicom writes it for a conformant file: checked and
    completed by pydicom, then its group length, then its elements (explicit VR little
    endian, whatever the transfer syntax)."""
    validate_file_meta(meta, enforce_standard=True)
    tags = sorted(meta.keys())
    elements = Dataset({tag: meta.get_item(tag) for tag in tags if tag != _GROUP_LENGTH})
    body = _Encoder(implicit_vr=False, little_endian=True).dataset(elements, [default_encoding])
    meta.FileMetaInformationGroupLength = len(body)
    return _Encoder(False, True).head(_GROUP_LENGTH, "UL", 4) + struct.pack("<L", len(body)) + body
