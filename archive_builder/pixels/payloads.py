"""Hidden payloads in pixel data: bytes that are not the image.

A decoder skips much of a compressed frame: comment and application segments,
tables no scan uses, fields it ignores, bytes between a scan's last code and
the next marker, fill bytes, unused header slots, everything after the end
marker. Any of it can hold a name, and a published file keeps it byte for byte.
So one rule applies to every compressed frame: **it is published in canonical
form**, holding only the segments its decoder needs, each written from its
parsed fields and holding only what the image uses. The coded data is copied,
never re-encoded, so the image decodes to the same pixels (the tests check);
whatever cannot be brought to that form is refused (the instance is not
published, with the reason in the report). Per case:

- JPEG (baseline, extended and lossless Huffman processes; ``jpeg.py``), rewritten: COM and
  APPn segments go, but for a JFIF header (written in one fixed form: version
  1.01, aspect 1:1, no thumbnail) and an Adobe header (fixed but for its
  colour transform byte); DQT and DHT tables that no scan uses go (a segment
  keeps only its used tables); frame, scan and restart-interval headers are
  written from their fields, without trailing bytes, and what a decoder
  ignores (a sequential scan's spectral selection and approximation, a
  lossless scan's end of selection and AC selectors, quantization selectors of
  a lossless frame) is written as the standard's fixed values; each scan is
  walked code by code (``huffman.py``) and cut where its last unit ends, in
  every restart interval, padding bits set to 1, restart markers renumbered,
  fill bytes dropped; nothing after end-of-image.
- JPEG refused: progressive, hierarchical and arithmetic-coded frames (their
  end cannot be found without a decoder of their own; DICOM retired most of
  them), a frame without a height (DNL), and any marker no decoder of the
  supported processes needs (JPGn, DAC, reserved codes, unknown segments).
- JPEG-LS, rewritten as JPEG minus the walk: COM and APPn go (but for the HP
  colour transform), headers are written from their fields, LSE segments keep
  coding parameters and oversize dimensions, exactly their length. Refused:
  mapping tables (LSE 2 and 3). Bytes after a JPEG-LS scan's last code are
  not found here (its codes depend on context and cannot be walked cheaply):
  its decoder (CharLS, in GDCM) refuses a scan followed by bytes it did not
  use, and every frame is decoded as published before it is, so such an
  instance is not published.
- JPEG 2000, rewritten: COM markers go (main and tile-part headers, tile-part
  lengths corrected, TLM dropped when a length changed), a JP2 wrapper is
  reduced to its codestream (its boxes: XML, UUID, vendor data go), nothing
  after end-of-codestream. Refused: marker segments a decoder does not read.
- RLE, rewritten: the header holds the segment count, the offsets of present
  segments and zeros (PS3.5 G.5); each segment holds only the runs that decode
  to its image, without no-operation bytes, padded to even. Refused: bytes
  between the header and the first segment, more than one byte after a
  segment's last row.
- Native pixel data cannot be rewritten (there is no form to bring it to):
  bytes after the last pixel, or values in the bits above Bits Stored (where
  retired overlays were embedded), are refused.

Still free, and not closed here: the values inside used tables (a Huffman
table may define codes the scan never uses, whose symbols are free bytes; a
quantization table's values for coefficients that are always zero), the
choice of run boundaries in RLE, and J2K packet data past its last code-block.
"""

from __future__ import annotations

import struct

import numpy as np


class PayloadError(ValueError):
    """A frame's structure cannot be checked: the instance is not published."""


# JPEG 2000 codestream (ISO 15444-1) markers
_J2K_SOC, _J2K_SOT, _J2K_SOD, _J2K_EOC = 0xFF4F, 0xFF90, 0xFF93, 0xFFD9
_J2K_COM, _J2K_TLM = 0xFF64, 0xFF55
# The marker segments a decoder reads (ISO 15444-1 A.2, 15444-15 for CAP and CPF):
# CAP SIZ COD COC TLM PLM PLT CPF QCD QCC RGN POC PPM PPT CRG; any other is refused.
_J2K_MAIN = frozenset({0xFF50, 0xFF51, 0xFF52, 0xFF53, 0xFF55, 0xFF57, 0xFF59, 0xFF5C})
_J2K_MAIN |= {0xFF5D, 0xFF5E, 0xFF5F, 0xFF60, 0xFF63}
_J2K_TILE = frozenset({0xFF52, 0xFF53, 0xFF58, 0xFF5C, 0xFF5D, 0xFF5E, 0xFF5F, 0xFF61})
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
        if marker not in _J2K_MAIN | {_J2K_COM}:
            raise PayloadError(f"a JPEG 2000 frame holds an unknown marker ({marker:#06x})")
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
            if marker not in _J2K_TILE | {_J2K_COM}:
                raise PayloadError(f"a JPEG 2000 tile-part holds an unknown marker ({marker:#06x})")
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


def strip_rle(frame: bytes, rows: int, columns: int) -> bytes:
    """An RLE Lossless frame in canonical form (PS3.5 Annex G): a header holding the
    segment count, the offsets of the segments it has and zeros (the offsets of
    absent segments are free bytes a decoder never reads), then each segment holding
    only the runs that decode to its image, without no-operation bytes (128). Bytes
    between the header and the first segment are refused, and so are segments
    holding more than one byte of padding after their last row."""
    if len(frame) < 64:
        raise PayloadError("an RLE frame is shorter than its header")
    header = struct.unpack("<16L", frame[:64])
    count, offsets = header[0], list(header[1 : 1 + header[0]])
    if not 1 <= count <= 15 or offsets[0] != 64 or offsets != sorted(offsets):
        raise PayloadError("an RLE frame has a damaged header")
    ends = [*offsets[1:], len(frame)]
    segments = []
    for start, end in zip(offsets, ends, strict=True):
        used, runs = _rle_runs(frame, start, end, rows * columns)
        if end - used > 1:  # one byte of padding makes a segment even; more is a payload
            raise PayloadError("an RLE segment holds bytes beyond its image")
        segments.append(runs + b"\x00" * (len(runs) % 2))  # each segment even (G.5)
    starts, position = [], 64
    for segment in segments:
        starts.append(position)
        position += len(segment)
    return struct.pack("<16L", count, *starts, *[0] * (15 - count)) + b"".join(segments)


def _rle_runs(data: bytes, start: int, end: int, expected: int) -> tuple[int, bytes]:
    """Where decoding a PackBits segment from ``start`` has produced ``expected`` bytes,
    and the runs it read, without no-operation bytes."""
    position, produced, runs = start, 0, []
    while produced < expected:
        if position >= end:
            raise PayloadError("an RLE segment is shorter than its image")
        header = data[position]
        if header < 128:
            produced += header + 1
            runs.append(data[position : position + header + 2])
            position += header + 2
        elif header > 128:
            produced += 257 - header
            runs.append(data[position : position + 2])
            position += 2
        else:
            position += 1
    if produced != expected or position > end:
        raise PayloadError("an RLE segment decodes to more than its image")
    return position, b"".join(runs)


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
