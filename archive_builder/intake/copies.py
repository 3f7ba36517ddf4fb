"""Attributes written twice: the copy that pydicom drops is still read for its identifiers.

A dataset (or an item of a sequence) may hold the same tag twice: an
exporter's bug, or an attack. pydicom keeps the last copy and silently drops
the others, so a name in the first copy would never be collected, and so
never searched for. Values are stored one after the other, so a dropped copy
leaves a gap between the end of one element and the start of the next: those
bytes are parsed again, and what they hold is kept beside the header for the
identifier collection.
"""

from __future__ import annotations

import logging
from io import BytesIO
from typing import BinaryIO

from pydicom.dataelem import DataElement, RawDataElement
from pydicom.dataset import Dataset
from pydicom.filereader import data_element_generator
from pydicom.sequence import Sequence
from pydicom.tag import BaseTag

log = logging.getLogger(__name__)
HIDDEN = "_hidden_copies"  # where a header keeps the copies pydicom dropped (list[Dataset])
_UNDEFINED = 0xFFFFFFFF
_LONG_HEADER_VRS = frozenset(
    {"OB", "OD", "OF", "OL", "OV", "OW", "SQ", "SV", "UC", "UN", "UR", "UT", "UV"}
)
_ITEM_DELIMITER = 0xFFFEE00D  # pydicom skips a stray one in a dataset: not a copy


def head_length(raw: DataElement | RawDataElement, implicit_vr: bool) -> int:
    """The length of the tag, VR and length that precede ``raw``'s value in its file."""
    if implicit_vr:
        return 8
    return 12 if raw.VR in _LONG_HEADER_VRS else 8


def _end(raw: RawDataElement) -> int | None:
    """Where ``raw`` ends in the file; None when that is not known from the header."""
    if raw.length != _UNDEFINED:
        return raw.value_tell + raw.length
    if isinstance(raw.value, bytes):  # read up to its delimiter, which follows it
        return raw.value_tell + len(raw.value) + 8
    return None


def _gaps(ds: Dataset, implicit_vr: bool, base: int) -> list[tuple[int, int]]:
    gaps: list[tuple[int, int]] = []
    end: int | None = None
    for tag in sorted(ds.keys()):
        raw: DataElement | RawDataElement = ds.get_item(tag, keep_deferred=True)
        if not isinstance(raw, RawDataElement):  # decoded already: its place is not known
            end = None
            continue
        start = raw.value_tell - head_length(raw, implicit_vr)
        if end is not None and start > end:
            gaps.append((base + end, base + start))
        end = _end(raw)
    return gaps


def _items(ds: Dataset, base: int) -> list[tuple[Dataset, int]]:
    """The items of the sequences of ``ds`` that pydicom can read, each with where its
    sequence's value starts in the file (the positions pydicom gives the elements of an
    item count from there). A sequence pydicom cannot read is refused by the identifier
    collection, with its reason."""
    items: list[tuple[Dataset, int]] = []
    for tag in sorted(ds.keys()):
        raw: DataElement | RawDataElement = ds.get_item(tag, keep_deferred=True)
        if raw.VR != "SQ" or not isinstance(raw, RawDataElement):
            continue
        try:
            value = ds[tag].value
        except Exception:  # a sequence stored as UN that pydicom cannot read
            log.debug("a sequence could not be read for hidden copies", exc_info=True)
            continue
        if isinstance(value, Sequence):
            start = base + raw.value_tell
            items.extend((item, start) for item in value if isinstance(item, Dataset))
    return items


def find_hidden_copies(ds: Dataset, handle: BinaryIO) -> list[Dataset]:
    """The elements that pydicom read and dropped, at every depth: one Dataset (with the
    character set of ``ds``) per dataset or item that had some. Call it on a header just
    read from ``handle`` (the bytes it was read from), before any of its elements is
    decoded. Raises an exception of pydicom's reader when the bytes between two elements
    cannot be read as elements."""
    implicit_vr, little_endian = ds.original_encoding
    if implicit_vr is None or little_endian is None:
        return []
    found: list[Dataset] = []
    pending = [(ds, 0)]
    while pending:
        current, base = pending.pop()
        gaps = _gaps(current, implicit_vr, base)
        if gaps:
            copies = _read_gaps(handle, gaps, implicit_vr, little_endian)
            if copies:
                dropped = Dataset(copies)
                dropped.set_original_encoding(implicit_vr, little_endian, ds.original_character_set)
                found.append(dropped)
        pending.extend(_items(current, base))
    return found


def _read_gaps(
    handle: BinaryIO, gaps: list[tuple[int, int]], implicit_vr: bool, little_endian: bool
) -> dict[BaseTag, DataElement | RawDataElement]:
    copies: dict[BaseTag, DataElement | RawDataElement] = {}
    for start, stop in gaps:
        handle.seek(start)
        chunk = handle.read(stop - start)
        for elem in data_element_generator(BytesIO(chunk), implicit_vr, little_endian):
            if isinstance(elem, RawDataElement) and elem.tag != _ITEM_DELIMITER:
                copies.setdefault(BaseTag(elem.tag), elem)
    return copies
