"""Hidden payloads in pixel data: bytes that are not the image.

A compressed frame can carry comments and application data beside the image
(JPEG and JPEG-LS COM and APPn segments, JPEG 2000 COM markers, a JP2 file's
metadata boxes, bytes after the end-of-image marker); native pixel data can
carry bytes after the last pixel, or values in the bits above Bits Stored
(where retired overlays were embedded). None of it is needed to show the
image, and any of it can hold a name.

Compressed frames are rewritten without those segments, never re-encoded:
the entropy-coded data is copied byte for byte, so the image decodes to the
same pixels (the tests check). What cannot be parsed is refused.
"""

from __future__ import annotations

import struct

import numpy as np


class PayloadError(ValueError):
    """A frame's structure cannot be checked: the instance is not published."""


# JPEG (ISO 10918) and JPEG-LS (ISO 14495) markers
_SOI, _EOI, _SOS = 0xD8, 0xD9, 0xDA
_COM = 0xFE
_APP0, _APP8, _APP14, _APP15 = 0xE0, 0xE8, 0xEE, 0xEF
_STANDALONE = frozenset({0x01, *range(0xD0, 0xD8), _SOI, _EOI})
_JPEG_LS_START = frozenset({0xF7, 0xF8})  # SOF55, LSE: the stream is JPEG-LS
_JFIF = b"JFIF\x00"
_ADOBE = b"Adobe"
_ADOBE_LENGTH = 14  # the marker's length field: 2 + "Adobe" + version, flags0, flags1, transform
_MRFX = b"mrfx"  # JPEG-LS colour transform (HP): the only content is one transform byte


def _app_kept(marker: int, payload: bytes) -> bytes | None:
    """An application segment's payload as it is kept, or None when it goes.

    Two hold decoding parameters and cannot carry text: a JFIF header
    (kept without its thumbnail, which is a picture of the image) and an Adobe
    header (whose transform flag says how colour is coded); and JPEG-LS's
    colour transform. Everything else (Exif, XMP, ICC profiles, IPTC, vendor
    data, thumbnails) goes.
    """
    if marker == _APP0 and payload.startswith(_JFIF) and len(payload) >= 14:
        return payload[:12] + b"\x00\x00"  # version, units, density; no thumbnail
    if marker == _APP14 and payload.startswith(_ADOBE) and len(payload) + 2 == _ADOBE_LENGTH:
        return payload
    if marker == _APP8 and payload.startswith(_MRFX) and len(payload) == 5:
        return payload
    return None


def _scan_end(data: bytes, start: int, jpeg_ls: bool) -> int:
    """Where the entropy-coded data that begins at ``start`` ends (at the next marker)."""
    position = start
    while True:
        position = data.find(b"\xff", position)
        if position < 0 or position + 1 >= len(data):
            raise PayloadError("a JPEG frame ends inside its image data")
        following = data[position + 1]
        if jpeg_ls:
            if following >= 0x80:  # JPEG-LS: a marker; below 0x80 a stuffed data bit
                return position
        elif following == 0xFF:  # fill byte before a marker
            position += 1
            continue
        elif following != 0x00 and not 0xD0 <= following <= 0xD7:  # not stuffing or RSTn
            return position
        position += 2


def strip_jpeg(frame: bytes) -> bytes:
    """A JPEG or JPEG-LS frame without comment and application segments, and without
    anything after its end-of-image marker. The image data is copied as it is."""
    if not frame.startswith(b"\xff\xd8"):
        raise PayloadError("a JPEG frame does not start with a start-of-image marker")
    out = [b"\xff\xd8"]
    position, jpeg_ls = 2, False
    while True:
        while (
            position < len(frame)
            and frame[position] == 0xFF
            and (position + 1 < len(frame) and frame[position + 1] == 0xFF)
        ):
            position += 1  # fill bytes between segments
        if position + 2 > len(frame) or frame[position] != 0xFF:
            raise PayloadError("a JPEG frame holds bytes where a marker should be")
        marker = frame[position + 1]
        if marker == _EOI:
            out.append(b"\xff\xd9")
            return b"".join(out)  # what follows the image (padding or a payload) goes
        if marker in _STANDALONE:
            raise PayloadError("a JPEG frame has a marker out of place")
        if position + 4 > len(frame):
            raise PayloadError("a JPEG frame ends inside a marker")
        length = struct.unpack(">H", frame[position + 2 : position + 4])[0]
        end = position + 2 + length
        if length < 2 or end > len(frame):
            raise PayloadError("a JPEG segment is longer than its frame")
        jpeg_ls = jpeg_ls or marker in _JPEG_LS_START
        if marker == _COM:
            pass
        elif _APP0 <= marker <= _APP15:
            kept = _app_kept(marker, frame[position + 4 : end])
            if kept is not None:
                out.append(bytes((0xFF, marker)) + struct.pack(">H", len(kept) + 2) + kept)
        elif marker == _SOS:
            data_end = _scan_end(frame, end, jpeg_ls)
            out.append(frame[position:data_end])
            end = data_end
        else:
            out.append(frame[position:end])
        position = end


# JPEG 2000 codestream (ISO 15444-1) markers
_J2K_SOC, _J2K_SOT, _J2K_SOD, _J2K_EOC = 0xFF4F, 0xFF90, 0xFF93, 0xFFD9
_J2K_COM, _J2K_TLM = 0xFF64, 0xFF55
_JP2_SIGNATURE = b"\x00\x00\x00\x0cjP  \r\n\x87\n"


def _jp2_codestream(data: bytes) -> bytes:
    """The codestream box of a JP2 file (its other boxes can hold XML and vendor data)."""
    position = 0
    while position + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[position : position + 8])
        header = 8
        if length == 1:
            if position + 16 > len(data):
                break
            length, header = struct.unpack(">Q", data[position + 8 : position + 16])[0], 16
        elif length == 0:
            length = len(data) - position
        if length < header or position + length > len(data):
            break
        if kind == b"jp2c":
            return data[position + header : position + length]
        position += length
    raise PayloadError("a JPEG 2000 frame in a JP2 wrapper has no codestream")


def _j2k_marker(data: bytes, position: int) -> tuple[int, int]:
    """(marker, end of its segment) at ``position``."""
    if position + 4 > len(data):
        raise PayloadError("a JPEG 2000 frame ends inside a marker")
    marker, length = struct.unpack(">HH", data[position : position + 4])
    if marker >> 8 != 0xFF or length < 2 or position + 2 + length > len(data):
        raise PayloadError("a JPEG 2000 frame holds bytes where a marker should be")
    return marker, position + 2 + length


def strip_j2k(frame: bytes) -> bytes:
    """A JPEG 2000 codestream without COM markers (main and tile-part headers) and without
    anything after its end-of-codestream marker; a JP2 wrapper is reduced to its
    codestream. Tile-part lengths are corrected; TLM markers (optional tile-part length
    indexes) are dropped when a length changed. The coded data is copied as it is."""
    if frame.startswith(_JP2_SIGNATURE):
        frame = _jp2_codestream(frame)
    if not frame.startswith(b"\xff\x4f"):
        raise PayloadError("a JPEG 2000 frame does not start with a start-of-codestream marker")
    main: list[tuple[int, bytes]] = []
    position = 2
    while True:  # main header, up to the first tile-part
        if frame[position : position + 2] == b"\xff\x90":
            break
        marker, end = _j2k_marker(frame, position)
        if marker != _J2K_COM:
            main.append((marker, frame[position:end]))
        position = end
    tiles: list[bytes] = []
    changed = False
    while frame[position : position + 2] == b"\xff\x90":
        marker, header_end = _j2k_marker(frame, position)
        if header_end - position != 12:
            raise PayloadError("a JPEG 2000 tile-part header has an unexpected length")
        tile, psot, part, parts = struct.unpack(">HIBB", frame[position + 4 : header_end])
        segments: list[bytes] = []
        cursor = header_end
        while frame[cursor : cursor + 2] != b"\xff\x93":
            marker, end = _j2k_marker(frame, cursor)
            if marker == _J2K_COM:
                changed = True
            else:
                segments.append(frame[cursor:end])
            cursor = end
        data_start = cursor + 2
        if psot == 0:  # the last tile-part runs to the end-of-codestream marker
            data_end = frame.find(b"\xff\xd9", data_start)  # coded data never holds it
            if data_end < 0:
                raise PayloadError("a JPEG 2000 frame has no end-of-codestream marker")
        else:
            data_end = position + psot
            if data_end > len(frame) or data_end < data_start:
                raise PayloadError("a JPEG 2000 tile-part is longer than its frame")
        body = b"".join(segments) + b"\xff\x93" + frame[data_start:data_end]
        new_psot = 0 if psot == 0 else 12 + len(body)
        tiles.append(struct.pack(">HHHIBB", _J2K_SOT, 10, tile, new_psot, part, parts) + body)
        position = data_end
    if frame[position : position + 2] != b"\xff\xd9":
        raise PayloadError("a JPEG 2000 frame holds bytes after its last tile-part")
    kept = [segment for marker, segment in main if not (changed and marker == _J2K_TLM)]
    return b"\xff\x4f" + b"".join(kept) + b"".join(tiles) + b"\xff\xd9"


def check_rle(frame: bytes, rows: int, columns: int) -> None:
    """Refuse an RLE Lossless frame holding more than its segments decode to: bytes
    between the header and the first segment, or left over after a segment's last
    row (PS3.5 Annex G)."""
    if len(frame) < 64:
        raise PayloadError("an RLE frame is shorter than its header")
    header = struct.unpack("<16L", frame[:64])
    count, offsets = header[0], list(header[1 : 1 + header[0]])
    if not 1 <= count <= 15 or offsets[0] != 64 or offsets != sorted(offsets):
        raise PayloadError("an RLE frame has a damaged header")
    ends = [*offsets[1:], len(frame)]
    expected = rows * columns
    for start, end in zip(offsets, ends, strict=True):
        used = _rle_consumed(frame, start, end, expected)
        if end - used > 1:  # one byte of padding makes a segment even; more is a payload
            raise PayloadError("an RLE segment holds bytes beyond its image")


def _rle_consumed(data: bytes, start: int, end: int, expected: int) -> int:
    """Where decoding a PackBits segment from ``start`` has produced ``expected`` bytes."""
    position, produced = start, 0
    while produced < expected:
        if position >= end:
            raise PayloadError("an RLE segment is shorter than its image")
        header = data[position]
        if header < 128:
            produced += header + 1
            position += header + 2
        elif header > 128:
            produced += 257 - header
            position += 2
        else:
            position += 1
    if produced != expected or position > end:
        raise PayloadError("an RLE segment decodes to more than its image")
    return position


def native_length_problem(
    length: int, rows: int, columns: int, samples: int, bits: int, frames: int
) -> str | None:
    """Why native pixel data of ``length`` bytes is not what the header says, or None."""
    expected = (rows * columns * samples * frames * bits + 7) // 8
    if length in (expected, expected + expected % 2):
        return None
    if length > expected:
        return "native pixel data holds bytes beyond its frames (a hidden payload)"
    return "native pixel data is shorter than its rows, columns and frames say"


def unused_bits_problem(
    data: bytes, bits_allocated: int, bits_stored: int, signed: bool, big_endian: bool
) -> str | None:
    """Why the bits above Bits Stored hold something, or None: they must be zero (or, for
    signed values, copies of the sign bit). Old files embedded overlays there, and a
    reader that shows them would show whatever was drawn."""
    if bits_allocated not in (8, 16, 32) or not 0 < bits_stored < bits_allocated:
        return None
    dtype = np.dtype(f"{'>' if big_endian else '<'}u{bits_allocated // 8}")
    count = len(data) // dtype.itemsize
    values = np.frombuffer(data, dtype=dtype, count=count)
    high = values >> (bits_stored - 1)  # the sign bit and everything above it
    if signed:
        ok = (high == 0) | (high == (1 << (bits_allocated - bits_stored + 1)) - 1)
        bad = not bool(ok.all())
    else:
        bad = bool((high > 1).any())
    if bad:
        return "pixel values use the bits above Bits Stored (where overlays can hide text)"
    return None
