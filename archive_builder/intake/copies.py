"""Attributes written twice: the copy that pydicom drops is still read for its identifiers.

A dataset may hold the same tag twice (an exporter's bug, or an attack):
pydicom keeps the last copy and silently drops the others, so a name in the
first copy would never be collected, and so never searched for. Values are
stored one after the other, so a dropped copy leaves a gap between the end
of one element and the start of the next: those bytes are parsed again, and
what they hold is kept beside the header for the identifier collection.
"""

from __future__ import annotations

from io import BytesIO
from pathlib import Path

from pydicom.dataelem import DataElement, RawDataElement
from pydicom.dataset import Dataset
from pydicom.filereader import data_element_generator
from pydicom.tag import BaseTag

HIDDEN = "_hidden_copies"  # where a header keeps the copies pydicom dropped
_UNDEFINED = 0xFFFFFFFF
_LONG_HEADER_VRS = frozenset(
    {"OB", "OD", "OF", "OL", "OV", "OW", "SQ", "SV", "UC", "UN", "UR", "UT", "UV"}
)
_ITEM_DELIMITER = 0xFFFEE00D  # pydicom skips a stray one in a dataset: not a copy


def _head_length(raw: RawDataElement, implicit_vr: bool) -> int:
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


def find_hidden_copies(ds: Dataset, path: Path) -> Dataset | None:
    """The elements of ``ds``'s top level that pydicom read and dropped (a Dataset with
    the same character set), or None when there are none. Call it on a header just read,
    before any of its elements is decoded. Raises an exception of pydicom's reader when the
    bytes between two elements cannot be read as elements."""
    implicit_vr, little_endian = ds.original_encoding
    if implicit_vr is None or little_endian is None:
        return None
    gaps: list[tuple[int, int]] = []
    end: int | None = None
    for tag in sorted(ds.keys()):
        raw: DataElement | RawDataElement = ds.get_item(tag, keep_deferred=True)
        if not isinstance(raw, RawDataElement):  # decoded already: its place is not known
            end = None
            continue
        start = raw.value_tell - _head_length(raw, implicit_vr)
        if end is not None and start > end:
            gaps.append((end, start))
        end = _end(raw)
    if not gaps:
        return None
    hidden: dict[BaseTag, DataElement | RawDataElement] = {}
    with path.open("rb") as handle:
        for start, stop in gaps:
            handle.seek(start)
            chunk = handle.read(stop - start)
            for elem in data_element_generator(BytesIO(chunk), implicit_vr, little_endian):
                if isinstance(elem, RawDataElement) and elem.tag != _ITEM_DELIMITER:
                    hidden.setdefault(BaseTag(elem.tag), elem)
    if not hidden:
        return None
    copies = Dataset(hidden)
    copies.set_original_encoding(implicit_vr, little_endian, ds.original_character_set)
    return copies
