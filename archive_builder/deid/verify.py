"""The last gate: search a de-identified file for anything of the original.

Run on every file before it is saved. It looks at every value at every depth,
the file meta and the encoded bytes outside the pixel data, for each
identifying value of the original header, and checks the structure the
profile promises (no private or overlay groups, keyed UIDs, identity removed).
"""

from __future__ import annotations

import binascii
import codecs
import os
import re
import struct
from collections.abc import Iterator
from copy import deepcopy
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path
from typing import BinaryIO

from pydicom import dcmwrite
from pydicom.charset import convert_encodings
from pydicom.datadict import keyword_for_tag
from pydicom.dataelem import DataElement, RawDataElement
from pydicom.dataset import Dataset, FileDataset, FileMetaDataset
from pydicom.filebase import DicomFileLike
from pydicom.filereader import read_deferred_data_element
from pydicom.filewriter import write_data_element
from pydicom.multival import MultiValue
from pydicom.tag import BaseTag
from pydicom.uid import PYDICOM_IMPLEMENTATION_UID, UID, ExplicitVRLittleEndian

from . import icc
from .dates import valid_da, valid_dt, valid_tm
from .errors import DeidError
from .identifiers import (
    NUMBER_TEXT_VRS,
    UNDECODED_VRS,
    Identifiers,
    numbers_as_read,
    raw_vr,
    text_as_read,
    values_as_read,
)
from .normalise import plain, text_readings
from .risk import PIXEL_TAGS
from .uids import is_well_known
from .writer import element_head, encode_file

_UNDEFINED = 0xFFFFFFFF
# Text typed by a person, searched with every rule of ``matching``; every other text
# (numbers, dates, times, UIDs, ages) holds values only as whole words.
FREE_TEXT_VRS = frozenset({"AE", "CS", "LO", "LT", "PN", "SH", "ST", "UC", "UR", "UT"})
_CHUNK = 1 << 20


def _split(ds: FileDataset) -> tuple[FileDataset, list[DataElement | RawDataElement]]:
    """The dataset less its pixel data (sharing its elements and encoding), and the pixel data.

    Keeping the encoding lets pydicom write elements kept as read without
    decoding and re-encoding them.
    """
    elements: dict[BaseTag, DataElement | RawDataElement] = dict(ds.items())
    pixels = [elements.pop(tag) for tag in sorted(PIXEL_TAGS & elements.keys())]
    meta = _inflated(ds.file_meta)
    head = FileDataset("", Dataset(elements), file_meta=meta, preamble=ds.preamble)
    implicit_vr, little_endian = ds.original_encoding
    head.set_original_encoding(implicit_vr, little_endian, ds.original_character_set)
    return head, pixels


def _inflated(meta: FileMetaDataset) -> FileMetaDataset:
    """``meta``, or for a deflated file a copy that names the same encoding uncompressed:
    the header is searched as a reader sees it once inflated, not in compressed bytes."""
    if not UID(meta.get("TransferSyntaxUID", "")).is_deflated:
        return meta
    plain = deepcopy(meta)
    plain.TransferSyntaxUID = ExplicitVRLittleEndian
    return plain


def _write(ds: FileDataset) -> bytes:
    buffer = BytesIO()
    dcmwrite(buffer, ds, enforce_file_format=True)
    return buffer.getvalue()


def header_bytes(ds: FileDataset) -> bytes:
    """The file as it is written, less its pixel data (and inflated, if it is deflated)."""
    return encode_file(_split(ds)[0])


@dataclass(frozen=True)
class Encoded:
    """A de-identified file as it is saved: the header the verifier searches, then the rest.

    The pixel data, which sorts last, follows the header as it is (never
    re-encoded, never copied into one more buffer): pixel data left unread
    (deferred, of defined length) is copied straight from ``source``, after
    checking that the element is still where the header was read. A deflated
    file, whose bytes are compressed as a whole, is kept whole in ``body``
    instead (and its header is searched inflated).
    """

    header: bytes
    pixels: list[DataElement | RawDataElement]
    little_endian: bool
    implicit_vr: bool
    body: bytes | None = None
    source: Path | None = None

    def save(self, path: Path) -> int:
        """Write the file to ``path``; its size in bytes."""
        with path.open("wb") as handle:
            if self.body is not None:
                handle.write(self.body)
                return len(self.body)
            handle.write(self.header)
            for elem in self.pixels:
                if isinstance(elem, RawDataElement) and elem.value is None:
                    self._copy(elem, handle)
                    continue
                out = DicomFileLike(handle)
                out.is_little_endian = self.little_endian
                out.is_implicit_VR = self.implicit_vr
                write_data_element(out, elem)
            return handle.tell()

    def _copy(self, elem: RawDataElement, handle: BinaryIO) -> None:
        explicit_vr_unknown = not self.implicit_vr and (not elem.VR or len(elem.VR) != 2)
        if (
            self.source is None
            or elem.value_tell is None
            or elem.length == _UNDEFINED
            or explicit_vr_unknown
        ):
            raise DeidError("pixel data left unread cannot be copied")
        head = element_head(elem.tag, elem.VR, elem.length, self.implicit_vr, self.little_endian)
        try:
            with self.source.open("rb", buffering=0) as source:
                source.seek(elem.value_tell - len(head))
                if source.read(len(head)) != head:
                    raise DeidError("the file changed while it was de-identified")
                handle.write(head)
                handle.flush()
                _copy_bytes(source, handle, elem.length)
        except OSError:
            raise DeidError("the file changed or went away while it was de-identified") from None


def _copy_bytes(source: BinaryIO, target: BinaryIO, count: int) -> None:
    """Copy ``count`` bytes from the position of ``source`` (unbuffered) to that of
    ``target`` (flushed): in the kernel where it can, else through memory."""
    copy_range = getattr(os, "copy_file_range", None)
    if copy_range is not None:
        try:
            while count:
                done = copy_range(source.fileno(), target.fileno(), count)
                if done == 0:
                    raise DeidError("the file is shorter than its header says")
                count -= done
        except OSError:  # not between these file systems: copy the rest through memory
            pass
    while count:
        chunk = source.read(min(count, _CHUNK))
        if not chunk:
            raise DeidError("the file is shorter than its header says")
        target.write(chunk)
        count -= len(chunk)


def read_pixel_data(ds: Dataset, source: Path | None, *, undefined_only: bool = False) -> None:
    """Read in the pixel data left unread (all of it, or only encapsulated frames)."""
    for tag in PIXEL_TAGS & ds.keys():
        raw: DataElement | RawDataElement = ds.get_item(tag, keep_deferred=True)
        if not isinstance(raw, RawDataElement) or raw.value is not None:
            continue
        if undefined_only and raw.length != _UNDEFINED:
            continue
        if source is None:
            raise DeidError("pixel data left unread cannot be read")
        ds[tag] = read_deferred_data_element(open, str(source), None, raw)


def encode(ds: FileDataset, source: Path | None = None) -> Encoded:
    """The file as it is saved; its header is encoded once. ``source`` is the file that
    pixel data left unread is copied from."""
    syntax = UID(ds.file_meta.TransferSyntaxUID)
    encoding = (syntax.is_implicit_VR, syntax.is_little_endian)
    raws: list[DataElement | RawDataElement] = [
        ds.get_item(tag, keep_deferred=True) for tag in PIXEL_TAGS & ds.keys()
    ]
    if ds.original_encoding != encoding or any(
        isinstance(raw, RawDataElement) and (raw.is_implicit_VR, raw.is_little_endian) != encoding
        for raw in raws
    ):
        read_pixel_data(ds, source)  # read in another encoding than its syntax says: not copied
    head, pixels = _split(ds)
    after_pixels = bool(pixels) and max(head.keys(), default=0) > pixels[0].tag
    body = None
    if syntax.is_deflated or after_pixels:
        read_pixel_data(ds, source)
        body = _write(ds)
    header = encode_file(head)
    little, implicit = syntax.is_little_endian, syntax.is_implicit_VR
    return Encoded(header, pixels, little, implicit, body, source)


# Numbers stored as binary and binary data: no text of their own (the header bytes are
# searched for those).
_BINARY_VRS = UNDECODED_VRS - {"DS", "IS"}


def _binary(raw: DataElement | RawDataElement, tag: int) -> bool:
    """Whether a raw element holds numbers stored as binary or binary data only."""
    vr = raw_vr(raw, tag)
    return vr is not None and set(vr.split(" or ")) <= _BINARY_VRS


def _walk(ds: Dataset) -> Iterator[tuple[BaseTag, str, DataElement | None, list[str]]]:
    """(tag, VR, decoded element, texts to search) at every depth.

    Text kept as read is searched in its bytes (decoding it again costs more
    than the rest of the verification); UIDs, sequences and text in other
    character sets are decoded. Text holding other bytes than ASCII is also
    read in every plausible character set.
    """
    for tag in sorted(ds.keys()):
        raw: DataElement | RawDataElement = ds.get_item(tag, keep_deferred=True)
        vr = raw_vr(raw, tag) or raw.VR or "UN"
        if tag in PIXEL_TAGS or _binary(raw, tag):
            yield tag, vr, None, []
            continue
        data = raw.value if isinstance(raw, RawDataElement) else None
        other = text_readings(data) if isinstance(data, bytes) and not plain(data) else []
        text = text_as_read(ds, raw, tag)
        if text is not None:
            shown = numbers_as_read(values_as_read(text, vr)) if vr in NUMBER_TEXT_VRS else []
            yield tag, vr, None, [text, *other, *shown]
            continue
        elem = ds[tag]
        value = _text(elem)
        if elem.VR in NUMBER_TEXT_VRS and elem.value is not None:
            values = elem.value if isinstance(elem.value, MultiValue | list) else [elem.value]
            other = [*other, *numbers_as_read(values)]
        yield tag, elem.VR, elem, ([value] if value else []) + other
        if elem.VR == "SQ" and elem.value:
            for item in elem.value:
                yield from _walk(item)


def _text(elem: DataElement) -> str | None:
    if elem.VR in ("SQ", "OB", "OW", "OF", "OD", "OL", "OV", "UN") or elem.value is None:
        return None
    return str(elem.value)


def _uid_problems(elem: DataElement) -> list[str]:
    values = elem.value if isinstance(elem.value, list | tuple) else [elem.value]
    return [
        f"{elem.keyword or elem.tag}: a UID that is neither well known nor keyed"
        for value in map(str, values)
        if not (
            is_well_known(value)
            or value.startswith("2.25.")
            or (elem.keyword == "ImplementationClassUID" and value == PYDICOM_IMPLEMENTATION_UID)
        )
    ]


def find_leaks(ds: FileDataset, identifiers: Identifiers, encoded: bytes) -> list[str]:
    """Problems found in a de-identified dataset; empty when it is clean.

    Messages name the attribute and the kind of value, never the value.
    """
    problems: list[str] = []
    if str(ds.get("PatientIdentityRemoved", "")) != "YES":
        problems.append("Patient Identity Removed is not YES")
    texts: list[tuple[BaseTag, str, bool]] = []  # (tag, text, strict)
    for tag, vr, elem, readings in [*_walk(ds.file_meta), *_walk(ds)]:
        group = tag.group
        if tag.is_private:
            problems.append(f"private attribute {tag} survived")
        elif 0x5000 <= group <= 0x60FF and group & 0xFF00 in (0x5000, 0x6000):
            problems.append(f"curve or overlay attribute {tag} survived")
        if elem is not None and elem.VR == "UI" and elem.value:
            problems.extend(_uid_problems(elem))
        strict = vr not in FREE_TEXT_VRS
        texts.extend((tag, text, strict) for text in readings if text)
    # One search over all values of each kind first: a value found on its own is found in
    # the joined text too (the separator is neither a letter nor a digit), and most files
    # hold none.
    for strict in (False, True):
        joined = "\n".join(text for _, text, s in texts if s is strict)
        if identifiers.find(joined, strict=strict):
            found = {
                tag for tag, text, s in texts if s is strict and identifiers.find(text, strict=s)
            }
            problems.extend(
                f"{keyword_for_tag(tag) or tag}: holds an identifying value of the original"
                for tag in sorted(found)
            )
    problems.extend(
        f"{keyword_for_tag(tag) or tag}: a {vr} value that is not a {_FORMATS[vr][1]}"
        for tag, vr in _malformed(ds)
    )
    problems.extend(
        f"{keyword_for_tag(tag) or tag}: a binary value holds an identifying value of the original"
        for tag in sorted(
            {tag for tag, raw in _binary_values(ds) if binary_identifies(identifiers, raw, tag)}
            | set(numbers_identify(identifiers, ds))
        )
    )
    problems.extend(
        f"{keyword_for_tag(tag) or tag}: pixel data inside a sequence item survived"
        for tag in sorted(set(_nested_pixel_data(ds)))
    )
    problems.extend(
        "ICCProfile: a colour profile that is not in canonical form (free text may survive)"
        for _, tag, raw, _ in _elements(ds)
        if tag == icc.ICC_PROFILE and not _canonical(raw.value)
    )
    if not problems and any(identifiers.find(text, strict=True) for text in _readings(encoded, ds)):
        problems.append("the encoded header holds an identifying value of the original")
    return problems


def _nested_pixel_data(ds: Dataset) -> Iterator[BaseTag]:
    """The sequences (at every depth) with an item holding pixel data: the pixel stage
    reviews a file's own pixel data only, and pixel data is searched nowhere."""
    for tag in sorted(ds.keys()):
        raw: DataElement | RawDataElement = ds.get_item(tag, keep_deferred=True)
        if (raw_vr(raw, tag) or raw.VR) != "SQ" or tag in PIXEL_TAGS:
            continue
        for item in ds[tag].value or ():
            if PIXEL_TAGS & item.keys():
                yield tag
            yield from _nested_pixel_data(item)


def _canonical(value: object) -> bool:
    """Whether an ICC profile is in the canonical form the engine writes (``icc``)."""
    if not isinstance(value, bytes):
        return False
    try:
        return icc.canonical(value) == value
    except icc.IccError:
        return False


# Dates and times, whose values are searched for identifying values as whole words only:
# a value of any other form (a name glued to a date-time, free text in a time) is a
# problem of its own, whatever it holds, collected or not.
_FORMATS = {
    "DA": (valid_da, "date"),
    "DT": (valid_dt, "date-time"),
    "TM": (valid_tm, "time of day"),
}


def _elements(
    ds: Dataset, keep_deferred: bool = True
) -> Iterator[tuple[Dataset, BaseTag, DataElement | RawDataElement, str | None]]:
    """Every element but pixel data, inside sequences too, sequences themselves left out:
    (the dataset holding it, tag, element as read, VR). ``keep_deferred=False`` reads in
    values left unread."""
    for tag in sorted(ds.keys()):
        if tag in PIXEL_TAGS:
            continue
        raw: DataElement | RawDataElement = ds.get_item(tag, keep_deferred=keep_deferred)
        vr = raw_vr(raw, tag) or raw.VR
        if vr == "SQ":
            for item in ds[tag].value or ():
                yield from _elements(item, keep_deferred)
            continue
        yield ds, tag, raw, vr


def _malformed(ds: Dataset) -> Iterator[tuple[BaseTag, str]]:
    """The date and time elements (DA, DT, TM) at every depth whose values are not of
    their form (``dates``); (tag, VR) of each."""
    for holder, tag, raw, vr in _elements(ds):
        if vr not in _FORMATS:
            continue
        text = text_as_read(holder, raw, tag)
        if text is not None:
            values = values_as_read(text, vr)
        else:
            value = holder[tag].value
            values = [] if value is None else [value] if isinstance(value, str) else value
        valid = _FORMATS[vr][0]
        if not all(valid(str(v)) for v in values if v is not None):
            yield tag, vr


# Value representations that hold bytes rather than text or numbers.
BYTE_VRS = frozenset({"OB", "OW", "OF", "OD", "OL", "OV", "UN"})
# Numbers stored as binary: their bytes are whatever a writer put there, a name too (in
# ISO 8859-1 or UTF-16, glued to other bytes), so they are searched like bytes.
NUMBER_VRS = {"US": "H", "SS": "h", "UL": "L", "SL": "l", "FL": "f", "FD": "d", "SV": "q"}
NUMBER_VRS |= {"UV": "Q", "AT": "L"}
SEARCHED_VRS = BYTE_VRS | NUMBER_VRS.keys()


def byte_readings(data: bytes) -> Iterator[str]:
    """``data`` read as text every way a person hiding a name might have written it:
    ISO 8859-1, UTF-8, and UTF-16 in both byte orders, starting at an even or an odd
    byte (a binary attribute holds no character set)."""
    yield data.decode("latin-1")
    yield data.decode("utf-8", errors="replace")
    for start in (0, 1):
        part = data[start : len(data) - (len(data) - start) % 2]
        yield part.decode("utf-16-le", errors="replace")
        yield part.decode("utf-16-be", errors="replace")


# Runs of the base64 alphabets (standard and URL-safe) long enough to hide a name.
_BASE64_RUNS = re.compile(rb"[A-Za-z0-9+/_-]{12,}")
_URL_SAFE = bytes.maketrans(b"-_", b"+/")


def _base64_decodings(data: bytes) -> Iterator[bytes]:
    """The runs of base64 in ``data`` decoded, from each of the four positions a run's
    first quantum may start at (the run may begin with letters glued to it)."""
    for run in _BASE64_RUNS.findall(data):
        run = run.translate(_URL_SAFE)
        for start in range(4):
            part = run[start:]
            part = part[: len(part) - len(part) % 4]
            if len(part) >= 8:
                yield binascii.a2b_base64(part)


def binary_readings(data: bytes) -> Iterator[str]:
    """A binary value read every way a person hiding a name in it might have written it:
    ``byte_readings``, UTF-32 in both byte orders from each of four positions, and its
    runs of base64 decoded and read so too."""
    yield from byte_readings(data)
    for start in range(4):
        part = data[start : len(data) - (len(data) - start) % 4]
        yield part.decode("utf-32-le", errors="replace")
        yield part.decode("utf-32-be", errors="replace")
    for decoded in _base64_decodings(data):
        yield decoded.decode("latin-1")
        yield decoded.decode("utf-8", errors="replace")


def binary_identifies(
    identifiers: Identifiers, raw: DataElement | RawDataElement, tag: int
) -> bool:
    """Whether a binary value (OB, OW, UN...) holds an identifying value in any reading of
    it (``binary_readings``), found by ``binary`` matching: glued to other letters or
    digits too, as an ID in a vendor's blob or a name in an ICC profile's description is."""
    vr = raw_vr(raw, tag) if isinstance(raw, RawDataElement) else raw.VR
    if not vr or not set(str(vr).split(" or ")) & SEARCHED_VRS:
        return False
    value = raw.value if isinstance(raw.value, bytes) else _packed(str(vr), raw.value)
    if value is None or len(value) < 3:
        return False
    return any(identifiers.find(text, binary=True) for text in binary_readings(value))


def _packed(vr: str, value: object) -> bytes | None:
    """The bytes of numbers decoded by pydicom (little endian), or None when they are not
    numbers of a binary VR: what is searched is what a reader of the numbers may see."""
    code = NUMBER_VRS.get(vr)
    if code is None or value is None:
        return None
    numbers = list(value) if isinstance(value, list | tuple | MultiValue) else [value]
    try:
        return struct.pack(f"<{len(numbers)}{code}", *numbers)
    except (struct.error, TypeError):
        return None


def _binary_values(ds: Dataset) -> Iterator[tuple[BaseTag, DataElement | RawDataElement]]:
    """The binary elements (not pixel data) at every depth."""
    for _holder, tag, raw, vr in _elements(ds):
        if vr and set(str(vr).split(" or ")) & BYTE_VRS:
            yield tag, raw


def _number_values(ds: Dataset) -> Iterator[tuple[BaseTag, bytes]]:
    """The numbers stored as binary (``NUMBER_VRS``, not pixel data) at every depth, as
    bytes; values too short to hold a name are left out."""
    for _holder, tag, raw, vr in _elements(ds, keep_deferred=False):
        kinds = set(str(vr).split(" or ")) if vr else set()
        if not kinds or kinds & BYTE_VRS or not kinds <= NUMBER_VRS.keys():
            continue
        value = raw.value if isinstance(raw.value, bytes) else _packed(str(vr), raw.value)
        if value is not None and len(value) >= 3:
            yield tag, value


# Characters that no identifying value holds: controls, the replacement character, and
# private use; searching numbers read as text (mostly such characters, and CJK or Hangul
# in UTF-16) only in the runs of other characters costs a fraction. CJK, Hangul and
# the planes above are left out too when no identifying value is written in them.
_NOTHING = "\x00-\x1f\x7f-\x9f\ufffd\ue000-\uf8ff"
_FAR_SCRIPTS = "\u1100-\u11ff\u2e80-\ud7ff\U00010000-\U0010ffff"
_PIECES_ANY_SCRIPT = re.compile(f"[^{_NOTHING}]{{2,}}")
_PIECES = re.compile(f"[^{_NOTHING}{_FAR_SCRIPTS}]{{2,}}")
_FAR = re.compile(f"[{_FAR_SCRIPTS}]")


def _no_far_scripts(identifiers: Identifiers) -> bool:
    values = (identifiers.names, identifiers.values, identifiers.ids, identifiers.words)
    return not any(_FAR.search(text) for group in values for text in group)


# Between values searched as one text: no letter or digit in any reading, so no value
# is glued to the next, and of a length that keeps every alignment.
_BETWEEN = bytes(8)


def numbers_identify(identifiers: Identifiers, ds: Dataset) -> list[BaseTag]:
    """The tags of numbers stored as binary (at any depth of ``ds``) whose bytes hold an
    identifying value, read as ``binary_identifies`` reads bytes. Every reading costs a
    search of all identifying values, and a header holds many such numbers: they are
    searched as one text first (most headers hold none), each on its own only then."""
    values = list(_number_values(ds))
    if not values:
        return []
    joined = _BETWEEN.join(value for _, value in values)
    pieces = _PIECES if _no_far_scripts(identifiers) else _PIECES_ANY_SCRIPT
    texts = ("\n".join(pieces.findall(text)) for text in binary_readings(joined))
    if not any(identifiers.find(text, binary=True) for text in texts if text):
        return []
    return sorted(
        {
            tag
            for tag, value in values
            if any(identifiers.find(text, binary=True) for text in binary_readings(value))
        }
    )


def _readings(encoded: bytes, ds: Dataset) -> Iterator[str]:
    """The header's bytes read as every reader might: ISO 8859-1, UTF-8, UTF-16 (both byte
    orders: an ICC profile or other binary attribute may hold UTF-16 text), and the file's
    character sets. pydicom decodes text of some VRs (CS, IS, ...) as ISO 8859-1 whatever
    the character set, so a UTF-8 name hidden there is found only by reading it as UTF-8."""
    yield from byte_readings(encoded)
    seen = {"iso8859-1", "utf-8"}
    for encoding in convert_encodings(ds.get("SpecificCharacterSet") or ds.original_character_set):
        try:
            name = codecs.lookup(encoding).name
        except LookupError:  # pydicom cannot decode it either: it reads it as ISO 8859-1
            continue
        if name not in seen:
            seen.add(name)
            yield encoded.decode(name, errors="replace")
