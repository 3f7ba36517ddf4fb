"""Reading a DICOM file's header once, and keeping the bytes it was read from.

Every file of a study is searched for the identifying values of all of them,
so each header is used twice: once to collect its values, and again, after
every file was read, to de-identify it. Parsed, a header holds about 100 KB
(a 10,000-file study: 1 GB); the bytes it was read from, less its pixel data,
hold a few KB. So intake keeps the bytes (``HeaderBytes``) and each use parses
them again: the header that is de-identified is the header whose values were
collected, whatever happens to the file meanwhile. Only the pixel data is read
from the file again, after checking that its element is still where it was,
and screened by the pixel stage.
"""

from __future__ import annotations

import io
import os
import struct
import warnings
import zlib
from dataclasses import dataclass
from io import BytesIO
from itertools import pairwise
from pathlib import Path
from typing import Any, BinaryIO, cast

from pydicom import dcmread
from pydicom.dataelem import DataElement, RawDataElement
from pydicom.dataset import Dataset, FileDataset
from pydicom.errors import InvalidDicomError
from pydicom.filereader import _read_file_meta_info, read_deferred_data_element, read_preamble
from pydicom.tag import BaseTag, Tag
from pydicom.uid import UID

from .copies import HIDDEN, find_hidden_copies, head_length

DICOMDIR_CLASS = "1.2.840.10008.1.3.10"
DEFER_BYTES = 4096
_CHUNK = 1024 * 1024
_UNDEFINED = 0xFFFFFFFF
PIXEL_TAGS = frozenset(Tag(k) for k in ("FloatPixelData", "DoubleFloatPixelData", "PixelData"))
# Attributes read before de-identification (grouping files into studies and patients,
# the risk check): a file whose values of these cannot be read is skipped.
_READ_FIRST = (
    "SOPClassUID",
    "SOPInstanceUID",
    "StudyInstanceUID",
    "SeriesInstanceUID",
    "PatientID",
    "PatientBirthDate",
    "PatientSex",
    "PatientAge",
    "StudyDate",
    "Modality",
    "ImageType",
    "BurnedInAnnotation",
    "RecognizableVisualFeatures",
    "SeriesNumber",
    "InstanceNumber",
)
# What grouping files into patients and studies, planning a study and the pixel stage's
# first look read of a header: all that an Instance keeps parsed.
SUMMARY_TAGS = sorted({Tag("SpecificCharacterSet"), *(Tag(k) for k in _READ_FIRST), *PIXEL_TAGS})


@dataclass(frozen=True)
class HeaderBytes:
    """The bytes a file's header was read from: the whole file but the values of its
    pixel data (``holes``: where each starts in the file, and its length), which stay in
    the file; the sequence delimiter that ends encapsulated pixel data is held. They are
    held compressed (zlib, fastest level: a header shrinks about threefold)."""

    packed: bytes
    holes: tuple[tuple[int, int], ...] = ()

    @classmethod
    def of(cls, data: bytes, holes: tuple[tuple[int, int], ...] = ()) -> HeaderBytes:
        return cls(zlib.compress(data, 1), holes)

    @property
    def data(self) -> bytes:
        return zlib.decompress(self.packed)

    def parse(self, path: Path) -> FileDataset:
        """The header as intake read it, every value read in but the pixel data left out,
        which is read from ``path`` when it is needed; with the copies of an attribute
        that pydicom dropped (see ``copies``). Raises pydicom's exceptions on bytes that
        do not parse (never on bytes that ``read_header_bytes`` accepted)."""
        data = self.data
        held = cast(BinaryIO, HeldFile(data, self.holes))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds = dcmread(held, defer_size=DEFER_BYTES if self.holes else None)
            # before any value is read in: a value read in is decoded, its place no longer
            # known, and the copies after it would be missed
            hidden = None
            if not UID(ds.file_meta.get("TransferSyntaxUID", "")).is_deflated:
                hidden = find_hidden_copies(ds, held)
            for tag in ds.keys() - PIXEL_TAGS:  # read in here, never from the file
                raw: DataElement | RawDataElement = ds.get_item(tag, keep_deferred=True)
                if isinstance(raw, RawDataElement) and raw.value is None and raw.length:
                    ds[tag] = read_deferred_data_element(HeldFile, held, None, raw)
        ds.buffer, ds.filename, ds.fileobj_type, ds.timestamp = None, str(path), open, None
        if hidden:
            object.__setattr__(ds, HIDDEN, hidden)
        return ds


class HeldFile(io.RawIOBase):
    """A file as ``HeaderBytes`` holds it, read as the file: its bytes, and zeros where
    it holds none (pydicom steps over a deferred value, and scans an encapsulated one
    for the delimiter that follows it)."""

    def __init__(self, data: bytes, holes: tuple[tuple[int, int], ...]):
        self.data, self.holes = data, holes
        self.size = len(data) + sum(length for _, length in holes)
        self.position = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.position

    def seek(self, offset: int, whence: int = 0) -> int:
        base = (0, self.position, self.size)[whence]
        self.position = max(0, base + offset)
        return self.position

    def readinto(self, buffer: Any) -> int:
        stop = min(self.position + len(buffer), self.size)
        chunk = self._bytes(self.position, stop) if stop > self.position else b""
        buffer[: len(chunk)] = chunk
        self.position += len(chunk)
        return len(chunk)

    def _bytes(self, start: int, stop: int) -> bytes:
        parts, held_before, position = [], 0, start
        for hole, length in self.holes:
            if position < hole:
                end = min(stop, hole)
                parts.append(self.data[position - held_before : end - held_before])
                position = end
            if position >= stop:
                break
            if position < hole + length:
                end = min(stop, hole + length)
                parts.append(bytes(end - position))
                position = end
            held_before += length
        if position < stop:
            parts.append(self.data[position - held_before : stop - held_before])
        return b"".join(parts)


def summary(header: Dataset) -> Dataset:
    """The few elements of ``header`` that are read before de-identification (see
    ``SUMMARY_TAGS``), as read; pixel data known to exist, its value dropped."""
    elements: dict[BaseTag, DataElement | RawDataElement] = {}
    for tag in SUMMARY_TAGS:
        if tag in header:
            elements[tag] = header.get_item(tag, keep_deferred=True)
            raw = elements[tag]
            if tag in PIXEL_TAGS and isinstance(raw, RawDataElement):
                elements[tag] = raw._replace(value=None)
    kept = Dataset(elements)
    implicit_vr, little_endian = header.original_encoding
    kept.set_original_encoding(implicit_vr, little_endian, header.original_character_set)
    return kept


def _inflated_size(data: bytes) -> int:
    """The size of a deflated file's dataset once inflated (pydicom reads it inflated, and
    the positions of its values are positions in the inflated bytes); -1 if it does not
    inflate."""
    handle = BytesIO(data)
    read_preamble(handle, False)
    _read_file_meta_info(handle)
    inflater = zlib.decompressobj(-zlib.MAX_WBITS)
    total = 0
    try:
        while chunk := handle.read(_CHUNK):
            total += len(inflater.decompress(chunk, _CHUNK))
            while inflater.unconsumed_tail:
                total += len(inflater.decompress(inflater.unconsumed_tail, _CHUNK))
        total += len(inflater.flush())
    except zlib.error:
        return -1
    return total


def _truncated(ds: Dataset, size: int) -> bool:
    """Whether a value (pixel data left unread above all) runs past the end of the file
    (of the inflated dataset, for a deflated file), ``size`` bytes long."""
    for tag in list(ds.keys()):
        raw = ds.get_item(tag, keep_deferred=True)
        tell, length = getattr(raw, "value_tell", None), getattr(raw, "length", 0)
        if tell is not None and length != _UNDEFINED and tell + length > size:
            return True
    return False


def _tell(element: DataElement | RawDataElement) -> int | None:
    """Where an element's value starts in the file, when pydicom says."""
    if isinstance(element, RawDataElement):
        return element.value_tell
    return getattr(element, "file_tell", None)


def _holes(ds: Dataset, size: int, handle: BinaryIO) -> tuple[tuple[int, int], ...]:
    """Where the values of the pixel data that pydicom left unread are in the file, and
    their lengths; for encapsulated pixel data, up to the sequence delimiter after it
    (its end found as where the next element starts, or the end of the file, and
    checked). A value whose end is not sure is held."""
    elements: dict[BaseTag, DataElement | RawDataElement] = {
        tag: ds.get_item(tag, keep_deferred=True) for tag in list(ds.keys())
    }
    implicit_vr = bool(ds.original_encoding[0])
    starts = sorted(
        tell - head_length(element, implicit_vr)
        for element in elements.values()
        if (tell := _tell(element)) is not None
    )
    holes: list[tuple[int, int]] = []
    for tag in sorted(PIXEL_TAGS & elements.keys()):
        raw = elements[tag]
        if not isinstance(raw, RawDataElement) or raw.value is not None or not raw.value_tell:
            continue
        if raw.length != _UNDEFINED:
            holes.append((raw.value_tell, raw.length))
            continue
        end = next((start for start in starts if start > raw.value_tell), size)
        order = "<HHL" if raw.is_little_endian else ">HHL"
        handle.seek(end - 8)
        if handle.read(8) == struct.pack(order, 0xFFFE, 0xE0DD, 0):
            holes.append((raw.value_tell, end - 8 - raw.value_tell))
    holes.sort()
    if any(a + n > b for (a, n), (b, _) in pairwise(holes)):
        return ()
    return tuple(holes)


def _read_bytes(path: Path) -> tuple[HeaderBytes | None, int, str | None]:
    """The header's bytes, the size the file had when they were read (inflated, for a
    deflated file), or why the file is skipped."""
    with path.open("rb") as handle:
        try:
            ds = dcmread(handle, defer_size=DEFER_BYTES)
        except InvalidDicomError:
            try:
                forced = dcmread(path, stop_before_pixels=True, force=True)
            except Exception:
                return None, 0, "not a DICOM file"
            if len(forced) and "SOPClassUID" in forced:
                return None, 0, "not a valid DICOM file (readable only with force=True)"
            return None, 0, "not a DICOM file"
        except Exception:
            return None, 0, "a damaged or truncated DICOM file"
        meta = ds.file_meta
        if str(meta.get("MediaStorageSOPClassUID", "")) == DICOMDIR_CLASS:
            return None, 0, "a DICOMDIR (a media index, not an image)"
        if "TransferSyntaxUID" not in meta:
            return None, 0, "a DICOM file without a transfer syntax in its file meta"
        value = meta.TransferSyntaxUID
        # a private one or several: how its values are stored is unknown
        if not isinstance(value, str) or not UID(value).is_transfer_syntax:
            return None, 0, "a DICOM file whose file meta names no known transfer syntax"
        syntax = UID(value)
        size = os.fstat(handle.fileno()).st_size
        if syntax.is_deflated:
            handle.seek(0)
            data = handle.read()
            return HeaderBytes.of(data), _inflated_size(data), None
        if _truncated(ds, size):
            return None, 0, "a damaged or truncated DICOM file"
        holes = _holes(ds, size, handle)
        parts, position = [], 0
        for start, length in [*holes, (size, 0)]:
            handle.seek(position)
            parts.append(handle.read(start - position))
            position = start + length
    data = b"".join(parts)
    if len(data) + sum(length for _, length in holes) != size:  # the file changed meanwhile
        return None, 0, "a damaged or truncated DICOM file"
    return HeaderBytes.of(data, holes), size, None


def read_header_bytes(path: Path) -> tuple[HeaderBytes | None, Dataset | None, str | None]:
    """Read a file's header: the bytes it was read from, the header parsed from them,
    or None, None and why the file is skipped (a fixed text, never a value of the file)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        held, size, reason = _read_bytes(path)
        if held is None:
            return None, None, reason
        try:
            ds = held.parse(path)
        except Exception:  # bytes between two elements that are not elements
            return None, None, "a damaged DICOM file (bytes between two elements are not elements)"
        try:
            if _truncated(ds, size):
                return None, None, "a damaged or truncated DICOM file"
            # what grouping and the risk check read must be readable as text
            for keyword in _READ_FIRST:
                _ = str(ds.get(keyword, ""))
        except Exception:  # a value of an unknown VR, or stored in a way pydicom cannot read
            return None, None, "a DICOM file whose identifying or risk attributes cannot be read"
    if not ds.get("StudyInstanceUID") or not ds.get("SOPInstanceUID"):
        return None, None, "a DICOM file without Study or SOP Instance UID"
    return held, ds, None


def read_header(path: Path) -> tuple[Dataset | None, str | None]:
    """A file's header (without its pixel data, left in the file), or None and why the
    file is skipped."""
    _, ds, reason = read_header_bytes(path)
    return ds, reason
