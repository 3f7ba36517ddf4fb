"""The pixel stage: for each instance, publish its pixel data, publish new pixel data,
or do not publish it, with a reason.

It runs on every planned instance, after the header is read and before it is
de-identified, verified and saved: hidden payloads are stripped or refused,
every frame is decoded as it will be published and screened for text.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
from pydicom.dataelem import DataElement, RawDataElement
from pydicom.dataset import Dataset
from pydicom.encaps import encapsulate, encapsulate_extended, generate_frames
from pydicom.multival import MultiValue
from pydicom.sequence import Sequence as PydicomSequence
from pydicom.tag import BaseTag, Tag
from pydicom.uid import (
    HTJ2K,
    JPEG2000,
    UID,
    HTJ2KLossless,
    HTJ2KLosslessRPCL,
    JPEG2000Lossless,
    JPEGBaseline8Bit,
    JPEGExtended12Bit,
    JPEGLossless,
    JPEGLosslessSV1,
    JPEGLSLossless,
    JPEGLSNearLossless,
    RLELossless,
)

from .frames import (
    LOOKUP_TABLES,
    PIXEL_MODULE,
    DecodeError,
    decode,
    frame_count,
    pixel_dataset,
)
from .jpeg import strip_jpeg
from .payloads import (
    PayloadError,
    native_length_problem,
    strip_j2k,
    strip_rle,
    unused_bits_problem,
)

PIXEL_DATA, FLOAT_PIXEL_DATA, DOUBLE_PIXEL_DATA = Tag(0x7FE00010), Tag(0x7FE00008), Tag(0x7FE00009)
PIXEL_TAGS = (FLOAT_PIXEL_DATA, DOUBLE_PIXEL_DATA, PIXEL_DATA)
EXTENDED_OFFSETS, EXTENDED_LENGTHS = Tag(0x7FE00001), Tag(0x7FE00002)
_UNDEFINED = 0xFFFFFFFF

JPEG_SYNTAXES = frozenset(
    {
        JPEGBaseline8Bit,
        JPEGExtended12Bit,
        JPEGLossless,
        JPEGLosslessSV1,
        JPEGLSLossless,
        JPEGLSNearLossless,
    }
)
J2K_SYNTAXES = frozenset({JPEG2000Lossless, JPEG2000, HTJ2KLossless, HTJ2KLosslessRPCL, HTJ2K})

# Reasons an instance is not published: fixed texts, never a value of the file.
UNDECODABLE = "its pixel data cannot be decoded for screening"
UNCHECKED_SYNTAX = (
    "its transfer syntax (video or a new compression) cannot be screened frame by frame"
)
NO_PIXELS = "its pixel data is missing or empty"
TEXT_FOUND = "text was found in its pixels (a burned-in annotation)"


@dataclass(frozen=True)
class Replacement:
    """New pixel data written instead of the stored one (defaced volumes, stripped
    frames): the elements to set, and what the file then says about itself."""

    elements: tuple[DataElement | RawDataElement, ...]
    transfer_syntax: str | None = None  # when the new pixel data is in another syntax
    removed: tuple[BaseTag, ...] = ()  # attributes that no longer hold (offset tables)
    method_codes: tuple[tuple[str, str], ...] = ()  # CID 7050 (code, meaning) to add
    note: str | None = None  # what was done, for the report (a fixed text)


@dataclass(frozen=True)
class Decision:
    """What the pixel stage decided for one instance."""

    excluded: str | None = None  # why it is not published (a fixed text), or None
    pixels: DataElement | RawDataElement | None = None  # the pixel data as screened
    replacement: Replacement | None = None
    frames: int = 0  # frames decoded and screened
    detector: int = 0  # frames the pre-filter sent to the text detector
    notes: tuple[str, ...] = field(default=())


KEEP = Decision()


def review_series(headers: Sequence[Dataset | None], paths: Sequence[Path]) -> list[Decision]:
    """Decisions taken for a series as a whole, before its instances are reviewed one by
    one. ``headers`` holds each instance's header where this process has it (None where
    it must be read from ``paths``). A CT or MR series may show a face: it is defaced
    (every slice gets new pixel data) or not published (see ``pixels.heads``); every
    other series goes on to ``review_instance`` as it is."""
    from .heads import (
        CLEAN_VISUAL_FEATURES,
        REMOVED,
        ExplicitVRLittleEndian,
        may_show_face,
        new_elements,
        review_head_series,
    )

    known = any(h is not None for h in headers)
    if not (may_show_face(headers) if known else paths and _ct_or_mr(paths[0])):
        return [KEEP for _ in headers]
    decisions = []
    for excluded, pixel, note in review_head_series(headers, paths):
        if excluded:
            decisions.append(Decision(excluded=excluded))
        elif pixel is None:
            decisions.append(KEEP)
        else:
            replacement = Replacement(
                new_elements(pixel),
                str(ExplicitVRLittleEndian),
                REMOVED,
                (CLEAN_VISUAL_FEATURES,),
                note,
            )
            decisions.append(Decision(replacement=replacement))
    return decisions


def _ct_or_mr(path: Path) -> bool:
    """Whether the file at ``path`` is CT or MR (its header read here)."""
    from pydicom import dcmread

    from .volume import modality_of

    try:
        return modality_of(dcmread(path, stop_before_pixels=True)) != ""
    except Exception:
        return True  # read again, and reported, by the series review


def whole_series(headers: Sequence[Dataset]) -> bool:
    """Whether ``review_series`` needs every instance of this series in one process (the
    ``deid`` command then keeps the series in one task): CT and MR series."""
    from .heads import may_show_face

    return may_show_face(headers)


def _pixel_element(ds: Dataset) -> DataElement | RawDataElement | None:
    for tag in PIXEL_TAGS:
        if tag in ds:
            element: DataElement | RawDataElement = ds.get_item(tag, keep_deferred=True)
            return element
    return None


class SourceChanged(OSError):
    """The file no longer holds the pixel data where its header was read."""


def _head(element: RawDataElement) -> bytes:
    """The tag, VR and length that precede a raw element's value in its file."""
    order = "<" if element.is_little_endian else ">"
    tag = struct.pack(order + "HH", element.tag >> 16, element.tag & 0xFFFF)
    if element.is_implicit_VR or not element.VR:
        return tag + struct.pack(order + "L", element.length)
    return tag + element.VR.encode("ascii") + struct.pack(order + "2xL", element.length)


def _value(element: DataElement | RawDataElement, source: Path | None) -> bytes | None:
    """The element's bytes: as held, or read from ``source`` where they were left unread,
    after checking that the element is still where the header was read."""
    value = element.value
    if value is not None or not isinstance(element, RawDataElement):
        return value if isinstance(value, bytes) else None
    if source is None or element.value_tell is None or element.length == _UNDEFINED:
        return None
    head = _head(element)
    with source.open("rb") as handle:
        handle.seek(element.value_tell - len(head))
        if handle.read(len(head)) != head:
            raise SourceChanged("the file changed after its header was read")
        data = handle.read(element.length)
    if len(data) != element.length:
        raise SourceChanged("the file is shorter than its header says")
    return data


def _int(ds: Dataset, keyword: str, default: int = 0) -> int:
    try:
        return int(ds.get(keyword, default) or default)
    except (TypeError, ValueError):
        return default


def _native(
    ds: Dataset, element: DataElement | RawDataElement, data: bytes, syntax: UID
) -> str | None:
    """Why native pixel data is not published as it is, or None."""
    bits = {PIXEL_DATA: _int(ds, "BitsAllocated"), FLOAT_PIXEL_DATA: 32}.get(element.tag, 64)
    problem = native_length_problem(
        len(data),
        _int(ds, "Rows"),
        _int(ds, "Columns"),
        _int(ds, "SamplesPerPixel", 1),
        bits,
        frame_count(ds),
    )
    if problem is None and element.tag == PIXEL_DATA:
        problem = unused_bits_problem(
            data,
            bits,
            _int(ds, "BitsStored", bits),
            _int(ds, "PixelRepresentation") == 1,
            not syntax.is_little_endian,
        )
    return problem


_CANONICAL = "frames rewritten in canonical form (bytes that decoders skip removed)"


def _stripped(
    ds: Dataset, element: DataElement | RawDataElement, data: bytes, syntax: UID
) -> Replacement | None:
    """Encapsulated frames without their payloads; None when nothing had to go."""
    count = frame_count(ds)
    extended = None
    if EXTENDED_OFFSETS in ds and EXTENDED_LENGTHS in ds:
        extended = (ds[EXTENDED_OFFSETS].value, ds[EXTENDED_LENGTHS].value)
    try:
        frames = list(generate_frames(data, number_of_frames=count, extended_offsets=extended))
    except Exception:
        raise PayloadError("its encapsulated frames cannot be told apart") from None
    if len(frames) != count:
        raise PayloadError("it holds another number of frames than Number of Frames says")
    if syntax in J2K_SYNTAXES:
        clean = [strip_j2k(frame) for frame in frames]
    elif syntax in JPEG_SYNTAXES:
        clean = [strip_jpeg(frame) for frame in frames]
    else:
        rows, columns = _int(ds, "Rows"), _int(ds, "Columns")
        clean = [strip_rle(frame, rows, columns) for frame in frames]
    if _unchanged(data, frames, clean):
        return None
    rebuilt = _encapsulated(clean, extended is not None)
    pixel = DataElement(PIXEL_DATA, "OB", rebuilt[0], is_undefined_length=True)
    if extended is None:
        return Replacement((pixel,), note=_CANONICAL)
    offsets = DataElement(EXTENDED_OFFSETS, "OV", rebuilt[1])
    lengths = DataElement(EXTENDED_LENGTHS, "OV", rebuilt[2])
    return Replacement((pixel, offsets, lengths), note=_CANONICAL)


def _items(data: bytes) -> list[tuple[int, int]]:
    """(offset, length) of each item of encapsulated pixel data (its offset table first)."""
    items, position = [], 0
    while position + 8 <= len(data):
        tag, length = struct.unpack("<LL", data[position : position + 8])
        if tag == 0xE0DDFFFE:  # sequence delimiter
            break
        if tag != 0xE000FFFE or position + 8 + length > len(data):
            raise PayloadError("its encapsulated pixel data has a damaged item")
        items.append((position, length))
        position += 8 + length
    return items


def _unchanged(data: bytes, frames: list[bytes], clean: list[bytes]) -> bool:
    """Whether the stored encapsulation holds nothing but the frames: each frame the same
    once stripped (but for one byte of padding), every fragment part of a frame, and an
    offset table (if any) holding only offsets of fragments."""
    for frame, kept in zip(frames, clean, strict=True):
        if frame[: len(kept)] != kept or frame[len(kept) :] not in (b"", b"\x00"):
            return False
    items = _items(data)
    if not items or sum(length for _, length in items[1:]) != sum(map(len, frames)):
        return False
    table_length = items[0][1]
    if table_length % 4:
        return False
    first = items[1][0] if len(items) > 1 else 0
    starts = {offset - first for offset, _ in items[1:]}
    table = struct.unpack(f"<{table_length // 4}L", data[8 : 8 + table_length])
    return all(value in starts for value in table)


def _encapsulated(frames: list[bytes], extended: bool) -> tuple[bytes, bytes, bytes]:
    if extended:
        return encapsulate_extended(frames)
    return encapsulate(frames, has_bot=len(frames) > 1), b"", b""


def review_instance(ds: Dataset, source: Path | None, series: Decision = KEEP) -> Decision:
    """Review the pixel data of ``ds`` (read from ``source``, which holds any pixel data
    left unread) as it will be published.

    ``series`` is what ``review_series`` decided for it. Returns the decision,
    with the pixel data element to write (exactly the bytes that were decoded
    and screened) unless the instance is excluded.
    """
    if series.excluded:
        return series
    syntax = UID(str(ds.file_meta.get("TransferSyntaxUID", "")))
    replacement = series.replacement
    if replacement is not None:
        element = next((e for e in replacement.elements if e.tag in PIXEL_TAGS), None)
        if element is None:
            return Decision(excluded=NO_PIXELS)
        syntax = UID(replacement.transfer_syntax or syntax)
    else:
        found = _pixel_element(ds)
        if found is None:
            return Decision(excluded=NO_PIXELS)
        element = found
        data = _value(element, source)
        if not data:
            return Decision(excluded=NO_PIXELS)
        try:
            if syntax.is_encapsulated:
                if syntax not in J2K_SYNTAXES | JPEG_SYNTAXES | {RLELossless}:
                    return Decision(excluded=UNCHECKED_SYNTAX)
                replacement = _stripped(ds, element, data, syntax)
                if replacement is not None:
                    element = replacement.elements[0]
            else:
                problem = _native(ds, element, data, syntax)
                if problem:
                    return Decision(excluded=problem)
                if isinstance(element, RawDataElement) and element.value is None:
                    element = element._replace(value=data)
        except (PayloadError, DecodeError) as exc:
            return Decision(excluded=str(exc))
    decision = Decision(pixels=element, replacement=replacement)
    return _screened(ds, element, str(syntax), decision)


class _Screened:
    """What screening found for each distinct pixel data this process has screened
    (``SIZE`` of them at most, the oldest forgotten first): the same bytes decoded
    with the same pixel module give the same frames, and through the same lookup
    tables the same views (``views``), so they are decoded and screened once (a series
    often repeats a frame; a donation holds copies of a file)."""

    SIZE = 4096

    def __init__(self) -> None:
        self.results: dict[bytes, tuple[str | None, int, int]] = {}

    def key(
        self, pixels: Dataset, element: DataElement | RawDataElement, syntax: str
    ) -> bytes | None:
        """A digest of what decoding reads and of the lookup tables the views go through
        (None: the bytes are not at hand)."""
        if not isinstance(element.value, bytes):
            return None
        digest = hashlib.blake2b(digest_size=32)
        attributes = [syntax, str(element.tag), *(repr(pixels.get(k)) for k in PIXEL_MODULE)]
        digest.update("\0".join(attributes).encode())
        for keyword in LOOKUP_TABLES:  # screening looks through them too (``views``)
            _digest(digest, pixels.get(keyword))
        digest.update(element.value)
        return digest.digest()

    def remember(self, key: bytes, result: tuple[str | None, int, int]) -> None:
        if len(self.results) >= self.SIZE:
            del self.results[next(iter(self.results))]
        self.results[key] = result


def _digest(digest: Any, value: object) -> None:
    """Add ``value`` (bytes, numbers, text, a sequence of items) to ``digest`` whole, each
    part with its kind and length: a repr shortens long values."""
    if isinstance(value, bytes):
        data = value
    elif isinstance(value, PydicomSequence):
        digest.update(b"S%d" % len(value))
        for item in value:
            digest.update(b"I%d" % len(item))
            for elem in item:
                digest.update(b"T%d" % elem.tag)
                _digest(digest, elem.value)
        return
    elif isinstance(value, MultiValue | list | tuple):
        data = repr([str(v) for v in value]).encode()
    else:
        data = repr(value).encode()
    digest.update(b"V%d:" % len(data))
    digest.update(data)


_SCREENED = _Screened()


def _screened(
    ds: Dataset, element: DataElement | RawDataElement, syntax: str, decision: Decision
) -> Decision:
    """``decision`` once every frame is decoded and screened for text (``pixels.text``):
    the instance is not published when any frame holds text. Detected text is not
    blanked: what the detector missed of a line it found (or a second line) would be
    published, and compressed frames would have to be encoded anew. Pixel data screened
    before in this process is not screened again (``_Screened``)."""
    pixels = pixel_dataset(ds, element, syntax)
    key = _SCREENED.key(pixels, element, syntax)
    if key is None:
        excluded, frames, sent = _screen_frames(pixels)
    else:
        if key not in _SCREENED.results:
            _SCREENED.remember(key, _screen_frames(pixels))
        excluded, frames, sent = _SCREENED.results[key]
    if excluded is not None:
        return Decision(excluded=excluded, frames=frames, detector=sent)
    return replace(decision, frames=frames, detector=sent)


# An opponent channel whose values span less than this shows nothing to a reader.
FLAT_COLOUR = 6.0
_PALETTE = "RedPaletteColorLookupTableDescriptor"


def views(frame: np.ndarray, pixels: Dataset | None = None) -> Iterator[np.ndarray]:
    """What of a decoded frame is screened for text: the frame as stored, and as a viewer
    shows it through each lookup table ``pixels`` holds (``frames.LOOKUP_TABLES``: a
    palette, a Modality LUT, each VOI LUT): a table may map values one apart to black
    and white, so text drawn one value above its background shows only through it.

    Each colour image (a colour frame, or a palette's) is screened as the mean of its
    channels and in two opponent channels, red against green and blue against both:
    with the mean they are another basis of RGB, so text in any colour other than its
    background's shows in one of the three, even text whose channels change in
    opposite ways (magenta on grey, of the same mean). An opponent channel is screened
    only where it is not flat (a grey image stored as RGB). Raises DecodeError when a
    table cannot be applied."""
    for image in _shown(frame, pixels):
        yield image
        if image.ndim != 3 or image.shape[2] < 3:
            continue
        values = image.astype(np.float32)
        red, green, blue = values[..., 0], values[..., 1], values[..., 2]
        for opponent in (red - green, red + green - 2 * blue):
            if float(opponent.max() - opponent.min()) >= FLAT_COLOUR:
                yield opponent


def _shown(frame: np.ndarray, pixels: Dataset | None) -> Iterator[np.ndarray]:
    """``frame`` as stored, then through each lookup table of ``pixels``."""
    yield frame
    if pixels is None or frame.ndim != 2:
        return
    from pydicom.pixels.processing import apply_color_lut, apply_modality_lut, apply_voi_lut

    try:
        if str(pixels.get("PhotometricInterpretation", "")).strip() == "PALETTE COLOR":
            if _PALETTE in pixels:
                yield apply_color_lut(frame, pixels)
            return
        values = frame
        if pixels.get("ModalityLUTSequence"):
            values = apply_modality_lut(frame, pixels)
            yield values
        for index in range(len(pixels.get("VOILUTSequence") or ())):
            yield apply_voi_lut(values, pixels, index=index, prefer_lut=True)
    except Exception:
        raise DecodeError("a lookup table of its pixel data cannot be applied") from None


def _screen_frames(pixels: Dataset) -> tuple[str | None, int, int]:
    """(why not published or None, frames screened, frames sent to the detector): every
    view of every frame (``views``) is screened."""
    from .text import screen_frame

    frames = sent = 0
    try:
        for frame in decode(pixels):
            frames += 1
            was_sent = False
            for view in views(frame, pixels):
                screening = screen_frame(view)
                was_sent = was_sent or screening.sent
                if screening.text:
                    return TEXT_FOUND, frames, sent + was_sent
            sent += was_sent
        if frames != frame_count(pixels):
            return UNDECODABLE, 0, 0
    except DecodeError:
        return UNDECODABLE, 0, 0
    return None, frames, sent
