"""ICC colour profiles (ICC Profile, 0028,2000) are published in canonical form: colour data
only, no free text.

A profile is colour data (curves, matrices, lookup tables) and text: its
description, copyright, device maker and model descriptions are typed by
whoever made it (a calibration profile can name the person who calibrated
the screen), and its header holds a date, four-letter signatures and unused
bytes. Only values the identifier collection knows can be searched for, so
the text is not searched: it is replaced. In the canonical form

- the header keeps what describes the colour transform (version, class,
  colour spaces, the defined flag and attribute bits, rendering intent) and zeros
  the rest: preferred CMM, creation date, platform, device maker and model,
  creator, profile ID (zero: not computed) and the reserved bytes; the
  illuminant is D50, as the ICC requires; a class, colour space or rendering
  intent the ICC does not define (four free bytes) makes the profile unreadable;
- tags of signatures the ICC does not register are left out (signatures are
  four free bytes each);
- text tags (``desc``, ``text``, ``mluc`` types) hold one fixed text; a date
  tag (``dtim``) holds zeros;
- tags of the colour-data types (curves, parametric curves, XYZ, lookup
  tables, chromaticity, measurement, viewing conditions, signatures of a
  registered value) are copied as the ICC defines them and no further: bytes
  inside a tag's size past its structure, between a lookup table's parts and
  in reserved or padding bytes are left out or zeroed; tags of any other type
  (named colours and colorant tables hold names; ``data``, ``dict`` and the
  integer arrays hold anything) are left out;
- tags are written in order, each once (tags that shared data still share
  it), four-byte aligned, with nothing between or after them.

Still free: the numbers inside colour data (a curve's values), as in a LUT.
A profile whose header or tag table cannot be read, or of a version other than 2
and 4 (iccMAX, version 5, uses the reserved bytes), is not published.
"""

from __future__ import annotations

import struct

ICC_PROFILE = 0x00282000  # ICC Profile (0028,2000), also inside Optical Path items
TEXT = "Removed by de-identification"
_HEADER = 128
_MAGIC = b"acsp"
_D50 = struct.pack(">3i", 0xF6D6, 0x10000, 0xD32D)  # the PCS illuminant (ICC.1:2022, 7.2.16)
_CLASSES = frozenset({b"scnr", b"mntr", b"prtr", b"link", b"spac", b"abst", b"nmcl"})
_SPACES = frozenset(
    {b"XYZ ", b"Lab ", b"Luv ", b"YCbr", b"Yxy ", b"RGB ", b"GRAY", b"HSV ", b"HLS ", b"CMYK"}
    | {b"CMY "}
    | {f"{n:X}CLR".encode() for n in range(2, 16)}
)
# the registered tags whose data can be colour data or text (ICC.1:2022, 9; ICC.1:2001-04,
# 6.4): a tag of any other signature is left out, so that signatures spell nothing
_TAGS = frozenset(
    {b"desc", b"cprt", b"dmnd", b"dmdd", b"vued", b"calt", b"wtpt", b"bkpt", b"lumi"}
    | {b"chad", b"chrm", b"cicp", b"gamt", b"meas", b"view", b"tech", b"ciis", b"rig0"}
    | {b"rig2", b"rXYZ", b"gXYZ", b"bXYZ", b"rTRC", b"gTRC", b"bTRC", b"kTRC"}
    | {f"{a}2{b}{n}".encode() for a, b in (("A", "B"), ("B", "A")) for n in range(3)}
    | {f"{a}2{b}{n}".encode() for a, b in (("D", "B"), ("B", "D")) for n in range(4)}
    | {f"pre{n}".encode() for n in range(3)}
)
# the registered values of signature tags (technology, image state, gamut)
_SIGNATURES = frozenset(
    {b"fscn", b"dcam", b"rscn", b"ijet", b"twax", b"epho", b"esta", b"dsub", b"rpho"}
    | {b"fprn", b"vidm", b"vidc", b"pjtv", b"CRT ", b"PMD ", b"AMD ", b"KPCD", b"imgs"}
    | {b"grav", b"offs", b"silk", b"flex", b"mpfs", b"mpfr", b"dmpc", b"dcpj"}
    | {b"scoe", b"sape", b"fpce", b"rhoc", b"rpoc", b"prmg"}
)
# types whose data is numbers that describe colour (ICC.1:2022, 10), copied as the ICC
# defines them; any other type (named colours and colorant tables hold names, ``data``,
# ``dict`` and the integer arrays anything) is left out
_COLOUR_TYPES = frozenset(
    {b"curv", b"para", b"XYZ ", b"sf32", b"mft1", b"mft2", b"mAB ", b"mBA "}
    | {b"chrm", b"meas", b"view", b"sig ", b"cicp"}
)
_PARAMETERS = {0: 1, 1: 3, 2: 4, 3: 5, 4: 7}  # parametric curve: function type -> numbers


class IccError(ValueError):
    """The profile cannot be read: it is not published."""


def _text(kind: bytes) -> bytes:
    """The fixed text, as a tag of type ``kind``."""
    ascii_ = TEXT.encode("ascii") + b"\0"
    if kind == b"text":
        return b"text\0\0\0\0" + ascii_
    if kind == b"desc":  # ICC v2 textDescriptionType: ASCII, then empty Unicode and ScriptCode
        return b"desc\0\0\0\0" + struct.pack(">I", len(ascii_)) + ascii_ + bytes(8 + 3 + 67)
    utf16 = TEXT.encode("utf-16-be")  # mluc: one record, en-US
    return b"mluc\0\0\0\0" + struct.pack(">II2s2sII", 1, 12, b"en", b"US", len(utf16), 28) + utf16


def _header(header: bytes, size: int) -> bytes:
    out = bytearray(_HEADER)
    out[0:4] = struct.pack(">I", size)
    out[8:10] = header[8:10]  # version (bytes 10 and 11 are zero)
    out[12:24] = header[12:24]  # device class, colour space, PCS: checked in ``canonical``
    out[36:40] = _MAGIC
    flags = struct.unpack(">I", header[44:48])[0] & 0x3  # embedded, independent
    out[44:48] = struct.pack(">I", flags)
    attributes = struct.unpack(">Q", header[56:64])[0] & 0xF  # reflective, matte, negative, b&w
    out[56:64] = struct.pack(">Q", attributes)
    out[64:68] = header[64:68]  # rendering intent (0 to 3: checked)
    out[68:80] = _D50
    return bytes(out)


def canonical(profile: bytes) -> bytes:
    """The canonical form of an ICC profile (see the module's text); ``IccError`` when
    its header or tag table cannot be read."""
    if len(profile) < _HEADER + 4 or profile[36:40] != _MAGIC:
        raise IccError("not an ICC profile (no 'acsp' signature)")
    if profile[8] not in (2, 4):  # iccMAX (5) uses the header's reserved bytes and new types
        raise IccError(f"an ICC profile of version {profile[8]}, not 2 or 4")
    if (
        profile[12:16] not in _CLASSES
        or profile[16:20] not in _SPACES
        or profile[20:24] not in (_SPACES if profile[12:16] == b"link" else {b"XYZ ", b"Lab "})
        or struct.unpack(">I", profile[64:68])[0] > 3
    ):
        raise IccError("its class, colour spaces or rendering intent are none the ICC defines")
    (count,) = struct.unpack(">I", profile[_HEADER : _HEADER + 4])
    table_end = _HEADER + 4 + 12 * count
    if count > 1000 or table_end > len(profile):
        raise IccError("its tag table runs past its end")
    entries = []
    for index in range(count):
        start = _HEADER + 4 + 12 * index
        signature, offset, size = struct.unpack(">4sII", profile[start : start + 12])
        if size < 8 or offset < table_end or offset + size > len(profile):
            raise IccError("a tag's data lies outside the profile")
        entries.append((signature, offset, size))
    kept: list[tuple[bytes, bytes]] = []  # (signature, data)
    for signature, offset, size in entries:
        if signature not in _TAGS:
            continue
        data = profile[offset : offset + size]
        kind = data[:4]
        if kind in (b"desc", b"text", b"mluc"):
            kept.append((signature, _text(kind)))
        elif kind == b"dtim":
            kept.append((signature, b"dtim" + bytes(16)))
        elif kind in _COLOUR_TYPES:
            colour = _colour(kind, data)
            if colour is not None:
                kept.append((signature, colour))
    return _assemble(profile[:_HEADER], kept)


def _u8(data: bytes, at: int) -> int:
    if at >= len(data):
        raise IccError("a tag's data is shorter than its type says")
    return data[at]


def _u16(data: bytes, at: int) -> int:
    return _u8(data, at) << 8 | _u8(data, at + 1)


def _u32(data: bytes, at: int) -> int:
    return _u16(data, at) << 16 | _u16(data, at + 2)


def _copy(out: bytearray, data: bytes, start: int, end: int) -> int:
    """Copies ``data[start:end]`` into ``out`` (bytes not copied stay zero); the end."""
    if end > len(data):
        raise IccError("a tag's data is shorter than its type says")
    out[start:end] = data[start:end]
    return end


def _curve(out: bytearray, data: bytes, at: int) -> int:
    """A curve (curv or para) at ``at`` copied; its end."""
    kind = data[at : at + 4]
    out[at : at + 4] = kind
    if kind == b"curv":
        return _copy(out, data, at + 8, at + 12 + 2 * _u32(data, at + 8))
    if kind == b"para" and _u16(data, at + 8) in _PARAMETERS:
        _copy(out, data, at + 8, at + 10)
        return _copy(out, data, at + 12, at + 12 + 4 * _PARAMETERS[_u16(data, at + 8)])
    raise IccError("a curve of a type other than curv and para")


def _lut(out: bytearray, data: bytes) -> int:
    """An mAB or mBA tag's parts copied, the bytes between them zero; its end."""
    inputs, outputs = _u8(data, 8), _u8(data, 9)
    _copy(out, data, 8, 10)
    _copy(out, data, 12, 32)
    end = 32
    ins, outs = (inputs, outputs) if data[:4] == b"mAB " else (outputs, inputs)
    # B curves, matrix, M curves, CLUT, A curves: (offset, curves in it)
    for part, curves in zip(range(12, 32, 4), (outs, 0, outs, 0, ins), strict=True):
        at = _u32(data, part)
        if not at:
            continue
        if at < 32:
            raise IccError("a lookup table's part overlaps its header")
        if part == 16:  # matrix: 12 numbers
            end = max(end, _copy(out, data, at, at + 48))
        elif part == 24:  # CLUT: grid points per input, precision, then outputs per point
            grid = [_u8(data, at + n) for n in range(inputs)]
            precision = _u8(data, at + 16)
            if precision not in (1, 2) or inputs > 16:
                raise IccError("a lookup table's grid is not of the form the ICC defines")
            _copy(out, data, at, at + inputs)
            out[at + 16] = precision
            points = 1
            for n in grid:
                points *= n
            end = max(end, _copy(out, data, at + 20, at + 20 + points * outputs * precision))
        else:
            for _ in range(curves):
                at = _curve(out, data, at)
                end = max(end, at)
                at += -at % 4
    return end


def _colour(kind: bytes, data: bytes) -> bytes | None:
    """A colour tag's data as the ICC defines it and nothing else: bytes past its
    structure (inside the tag's size) left out, reserved and padding bytes zero; None
    (the tag left out) for a signature of no registered value."""
    out = bytearray(len(data))
    out[:4] = kind
    end = len(data)
    if kind in (b"curv", b"para"):
        end = _curve(out, data, 0)
    elif kind in (b"XYZ ", b"sf32"):
        end = _copy(out, data, 8, len(data) - (len(data) - 8) % (12 if kind == b"XYZ " else 4))
    elif kind == b"chrm":
        end = _copy(out, data, 8, 12 + 8 * _u16(data, 8))
    elif kind in (b"meas", b"view"):
        end = _copy(out, data, 8, 36)
    elif kind == b"cicp":
        end = _copy(out, data, 8, 12)
    elif kind == b"sig ":
        if data[8:12] not in _SIGNATURES:
            return None
        end = _copy(out, data, 8, 12)
    elif kind in (b"mft1", b"mft2"):
        inputs, outputs, grid = _u8(data, 8), _u8(data, 9), _u8(data, 10)
        _copy(out, data, 8, 11)
        if kind == b"mft1":
            entries, start, width = (256, 256), 48, 1
        else:
            entries, start, width = (_u16(data, 48), _u16(data, 50)), 52, 2
        numbers = entries[0] * inputs + grid**inputs * outputs + entries[1] * outputs
        end = _copy(out, data, 12, start + width * numbers)
    elif kind in (b"mAB ", b"mBA "):
        end = _lut(out, data)
    return bytes(out[:end])


def _assemble(header: bytes, tags: list[tuple[bytes, bytes]]) -> bytes:
    table_end = _HEADER + 4 + 12 * len(tags)
    placed: dict[bytes, int] = {}  # data -> offset: shared data stays shared
    body = bytearray()
    table = bytearray(struct.pack(">I", len(tags)))
    for signature, data in tags:
        if data not in placed:
            body += bytes(-(table_end + len(body)) % 4)
            placed[data] = table_end + len(body)
            body += data
        table += struct.pack(">4sII", signature, placed[data], len(data))
    body += bytes(-(table_end + len(body)) % 4)
    size = table_end + len(body)
    return _header(header, size) + bytes(table) + bytes(body)
