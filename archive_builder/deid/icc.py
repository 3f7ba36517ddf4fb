"""ICC colour profiles (ICC Profile, 0028,2000) are published in canonical form: colour data
only, no free text.

A profile is colour data (curves, matrices, lookup tables) and text: its
description, copyright, device maker and model descriptions are typed by
whoever made it (a calibration profile can name the person who calibrated
the screen), and its header holds a date, four-letter signatures and unused
bytes. Only values the identifier collection knows can be searched for, so
the text is not searched: it is replaced. In the canonical form

- the header keeps what describes the colour transform (version, class,
  colour spaces, the defined flag and attribute bits, rendering intent,
  illuminant) and zeros the rest: preferred CMM, creation date, platform,
  device maker and model, creator, profile ID (zero: not computed) and the
  reserved bytes;
- text tags (``desc``, ``text``, ``mluc`` types) hold one fixed text; a date
  tag (``dtim``) holds zeros;
- tags of the colour-data types (curves, parametric curves, XYZ, lookup
  tables, chromaticity, measurement, viewing conditions, signatures, numbers)
  are copied, with their reserved bytes zeroed; tags of any other type
  (named colours and colorant tables hold names; ``data`` and ``dict`` hold
  anything) are left out;
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
# types whose data is numbers that describe colour (ICC.1:2022, 10)
_COLOUR_TYPES = frozenset(
    {
        b"curv",
        b"para",
        b"XYZ ",
        b"sf32",
        b"uf32",
        b"ui08",
        b"ui16",
        b"ui32",
        b"ui64",
        b"mft1",
        b"mft2",
        b"mAB ",
        b"mBA ",
        b"chrm",
        b"meas",
        b"view",
        b"sig ",
        b"cicp",
        b"vcgt",
    }
)


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
    out[8:24] = header[8:24]  # version, device class, colour space, PCS
    out[36:40] = _MAGIC
    flags = struct.unpack(">I", header[44:48])[0] & 0x3  # embedded, independent
    out[44:48] = struct.pack(">I", flags)
    attributes = struct.unpack(">Q", header[56:64])[0] & 0xF  # reflective, matte, negative, b&w
    out[56:64] = struct.pack(">Q", attributes)
    out[64:80] = header[64:80]  # rendering intent, illuminant
    return bytes(out)


def canonical(profile: bytes) -> bytes:
    """The canonical form of an ICC profile (see the module's text); ``IccError`` when
    its header or tag table cannot be read."""
    if len(profile) < _HEADER + 4 or profile[36:40] != _MAGIC:
        raise IccError("not an ICC profile (no 'acsp' signature)")
    if profile[8] not in (2, 4):  # iccMAX (5) uses the header's reserved bytes and new types
        raise IccError(f"an ICC profile of version {profile[8]}, not 2 or 4")
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
        data = profile[offset : offset + size]
        kind = data[:4]
        if kind in (b"desc", b"text", b"mluc"):
            kept.append((signature, _text(kind)))
        elif kind == b"dtim":
            kept.append((signature, b"dtim" + bytes(16)))
        elif kind in _COLOUR_TYPES:
            kept.append((signature, kind + bytes(4) + data[8:]))
    return _assemble(profile[:_HEADER], kept)


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
