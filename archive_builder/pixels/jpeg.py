"""JPEG and JPEG-LS frames in canonical form (see ``payloads`` for the rule and the cases).

Segments are parsed, then written again from their fields: only those a decoder
needs, each holding only what the image uses. Each scan's coded data is cut
where its last unit ends (``huffman``).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Any

from .huffman import HuffmanTable, ScanError, Unit, canonical_scan
from .payloads import PayloadError

# JPEG (ISO 10918) and JPEG-LS (ISO 14495) markers
_SOI, _EOI, _SOS, _DHT, _DQT, _DRI = 0xD8, 0xD9, 0xDA, 0xC4, 0xDB, 0xDD
_COM = 0xFE
_APP0, _APP8, _APP14, _APP15 = 0xE0, 0xE8, 0xEE, 0xEF
_SOF_DCT = frozenset({0xC0, 0xC1})  # baseline, extended sequential (Huffman)
_SOF_LOSSLESS, _SOF_LS, _LSE = 0xC3, 0xF7, 0xF8  # lossless (Huffman); JPEG-LS
_SOF_OTHER = frozenset({0xC2, 0xC5, 0xC6, 0xC7, *range(0xC9, 0xCC), *range(0xCD, 0xD0)})
_SOF_ANY = frozenset({*_SOF_DCT, _SOF_LOSSLESS, _SOF_LS, *_SOF_OTHER})
_JFIF = b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"  # 1.01, aspect 1:1, no thumbnail
_ADOBE = b"Adobe\x00\x64\x00\x00\x00\x00"  # version 100, no flags; then the transform
_MRFX = b"mrfx"  # JPEG-LS colour transform (HP): the only content is one transform byte


def _app_kept(marker: int, payload: bytes) -> bytes | None:
    """An application segment's payload as it is kept, or None when it goes.

    Two hold decoding parameters: a JFIF header (it says the colours are YCbCr;
    it is written in one fixed form: its version, density and thumbnail are
    free bytes) and an Adobe header (whose transform byte says how colour is
    coded; the rest is fixed); and JPEG-LS's colour transform. Everything else
    (Exif, XMP, ICC profiles, IPTC, vendor data, thumbnails) goes.
    """
    if marker == _APP0 and payload.startswith(b"JFIF\x00") and len(payload) >= 14:
        return _JFIF
    if marker == _APP14 and payload.startswith(b"Adobe") and len(payload) == 12:
        if payload[11] > 2:
            raise PayloadError("a JPEG frame's Adobe header names an unknown colour transform")
        return _ADOBE + payload[11:]
    if marker == _APP8 and payload.startswith(_MRFX) and len(payload) == 5:
        if payload[4] > 3:
            raise PayloadError("a JPEG-LS frame names an unknown colour transform")
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


@dataclass
class _Table:
    """One table of a DQT or DHT segment, and whether a scan uses it."""

    definition: bytes
    used: bool = False


@dataclass
class _Frame:
    """The frame header: process, size and components (id -> (H, V, quantization table))."""

    marker: int
    height: int
    width: int
    components: dict[int, tuple[int, int, int]]


def _segment(marker: int, payload: bytes) -> bytes:
    return bytes((0xFF, marker)) + struct.pack(">H", len(payload) + 2) + payload


def _tables(marker: int, payload: bytes) -> list[_Table]:
    """The tables a DQT or DHT segment defines, each with its class and number byte."""
    tables, position = [], 0
    while position < len(payload):
        kind, number = payload[position] >> 4, payload[position] & 15
        if marker == _DQT:
            size = 1 + 64 * (kind + 1)
            if kind > 1 or number > 3:
                raise PayloadError("a JPEG quantization table has an unknown precision or number")
        else:
            counts = payload[position + 1 : position + 17]
            size = 17 + sum(counts)
            if kind > 1 or number > 3 or len(counts) != 16:
                raise PayloadError("a JPEG Huffman table has an unknown class or number")
        if position + size > len(payload):
            raise PayloadError("a JPEG table segment is shorter than its tables")
        tables.append(_Table(payload[position : position + size]))
        position += size
    return tables


def _frame(marker: int, payload: bytes) -> tuple[_Frame, bytes]:
    """A frame header, and its segment as it is published (without trailing bytes)."""
    if marker in _SOF_OTHER:
        raise PayloadError(
            "a JPEG frame is coded with a process the archive cannot check (progressive, "
            "hierarchical or arithmetic coding): convert it to baseline or lossless JPEG"
        )
    if len(payload) < 6:
        raise PayloadError("a JPEG frame header is shorter than its fields")
    height, width, count = struct.unpack(">HHB", payload[1:6])
    size = 6 + 3 * count
    if len(payload) < size or count == 0 or height == 0 or width == 0:
        raise PayloadError("a JPEG frame header is damaged (or its height comes later)")
    components = {}
    written = bytearray(payload[:size])
    for position in range(6, size, 3):
        if marker in (_SOF_LOSSLESS, _SOF_LS):  # no quantization: the selector is 0
            written[position + 2] = 0
        identifier, sampling, table = written[position : position + 3]
        horizontal, vertical = sampling >> 4, sampling & 15
        if not (1 <= horizontal <= 4 and 1 <= vertical <= 4) or identifier in components:
            raise PayloadError("a JPEG frame header has a damaged component")
        components[identifier] = (horizontal, vertical, table)
    return _Frame(marker, height, width, components), _segment(marker, bytes(written))


def _ceil(a: int, b: int) -> int:
    return -(-a // b)


def _mcus(frame: _Frame, scanned: list[int]) -> tuple[int, list[int]]:
    """How many MCUs a scan of ``scanned`` components holds, and the components of the
    units of one MCU, in order (ISO 10918-1 A.2)."""
    side = 1 if frame.marker == _SOF_LOSSLESS else 8
    h_max = max(h for h, _, _ in frame.components.values())
    v_max = max(v for _, v, _ in frame.components.values())
    if len(scanned) == 1:
        h, v, _ = frame.components[scanned[0]]
        across = _ceil(_ceil(frame.width * h, h_max), side)
        down = _ceil(_ceil(frame.height * v, v_max), side)
        return across * down, scanned
    across = _ceil(frame.width, side * h_max)
    down = _ceil(frame.height, side * v_max)
    order = []
    for identifier in scanned:
        h, v, _ = frame.components[identifier]
        order += [identifier] * (h * v)
    return across * down, order


class _Jpeg:
    """The state of one frame's rewrite: tables defined so far, the frame, the restart
    interval, and the segments to write (table segments are written at the end, with
    only their used tables)."""

    def __init__(self) -> None:
        self.quantization: dict[int, _Table] = {}
        self.huffman: dict[tuple[int, int], _Table] = {}
        self.frame: _Frame | None = None
        self.restart = 0
        self.out: list[bytes | tuple[int, list[_Table]]] = [b"\xff\xd8"]

    def define(self, marker: int, payload: bytes) -> None:
        tables = _tables(marker, payload)
        for table in tables:
            number = table.definition[0] & 15
            if marker == _DQT:
                self.quantization[number] = table
            else:
                self.huffman[(table.definition[0] >> 4, number)] = table
        self.out.append((marker, tables))

    def scan(self, payload: bytes, data: bytes) -> bytes:
        """The SOS segment and its coded data as they are published."""
        frame = self.frame
        if frame is None:
            raise PayloadError("a JPEG scan comes before its frame header")
        count = payload[0] if payload else 0
        size = 1 + 2 * count + 3
        if count == 0 or len(payload) < size:
            raise PayloadError("a JPEG scan header is damaged")
        pairs = [(payload[1 + 2 * i], payload[2 + 2 * i]) for i in range(count)]
        start, _, approximation = payload[size - 3 : size]
        scanned = [c for c, _ in pairs]
        if any(c not in frame.components for c in scanned) or len(set(scanned)) < count:
            raise PayloadError("a JPEG scan names a component its frame does not have")
        if frame.marker == _SOF_LS:
            return _segment(_SOS, payload[:size]) + data
        lossless = frame.marker == _SOF_LOSSLESS
        if lossless and not 1 <= start <= 7:
            raise PayloadError("a lossless JPEG scan names an unknown predictor")
        # What a decoder ignores is written in one form: a sequential DCT scan's
        # spectral selection and approximation, a lossless scan's end of selection,
        # high approximation and AC table selectors (ISO 10918-1 B.2.3).
        written = [(c, s & (0xF0 if lossless else 0xFF)) for c, s in pairs]
        last = (start, 0, approximation & 15) if lossless else (0, 63, 0)
        header = _segment(_SOS, bytes([count, *(b for p in written for b in p), *last]))
        units: dict[int, Unit] = {}
        for identifier, selectors in pairs:
            dc = self._used(self.huffman, (0, selectors >> 4))
            ac = None if lossless else self._used(self.huffman, (1, selectors & 15))
            if not lossless:
                self._used(self.quantization, frame.components[identifier][2])
            units[identifier] = Unit(_huffman(dc), None if ac is None else _huffman(ac))
        mcus, order = _mcus(frame, scanned)
        try:
            coded = canonical_scan(data, [units[c] for c in order], mcus, self.restart)
        except ScanError as exc:
            raise PayloadError(str(exc)) from None
        return header + coded

    @staticmethod
    def _used(tables: dict[Any, _Table], key: Any) -> _Table:
        if key not in tables:
            raise PayloadError("a JPEG scan uses a table its frame does not define")
        tables[key].used = True
        return tables[key]

    def written(self) -> bytes:
        out = []
        for part in self.out:
            if isinstance(part, bytes):
                out.append(part)
                continue
            marker, tables = part
            used = b"".join(t.definition for t in tables if t.used)
            if used:
                out.append(_segment(marker, used))
        return b"".join(out)


def _huffman(table: _Table) -> HuffmanTable:
    return HuffmanTable(table.definition[1:17], table.definition[17:])


def _lse(payload: bytes) -> bytes:
    """A JPEG-LS preset parameters segment as it is kept: coding parameters (id 1) or
    an oversize image dimension (id 4), exactly their length; mapping tables (ids 2,
    3: free bytes a scan may never use) are refused."""
    if payload[:1] == b"\x01" and len(payload) >= 11:
        return _segment(_LSE, payload[:11])
    if payload[:1] == b"\x04" and len(payload) >= 2 and 1 <= payload[1] <= 4:
        return _segment(_LSE, payload[: 2 + 2 * payload[1]])
    raise PayloadError("a JPEG-LS frame holds mapping tables or unknown parameters")


def strip_jpeg(frame: bytes) -> bytes:
    """A JPEG or JPEG-LS frame in canonical form: only the segments a decoder needs,
    each written from its parsed fields; tables that no scan uses dropped; each scan's
    coded data cut where its last unit ends (JPEG); nothing after end-of-image.
    The coded data is copied as it is, so the image decodes to the same pixels."""
    if not frame.startswith(b"\xff\xd8"):
        raise PayloadError("a JPEG frame does not start with a start-of-image marker")
    state = _Jpeg()
    position, scans = 2, 0
    while True:
        while frame[position : position + 2] == b"\xff\xff":
            position += 1  # fill bytes between segments
        if position + 2 > len(frame) or frame[position] != 0xFF:
            raise PayloadError("a JPEG frame holds bytes where a marker should be")
        marker = frame[position + 1]
        if marker == _EOI:
            if not scans:
                raise PayloadError("a JPEG frame holds no image data")
            return state.written() + b"\xff\xd9"  # what follows the image goes
        if position + 4 > len(frame):
            raise PayloadError("a JPEG frame ends inside a marker")
        length = struct.unpack(">H", frame[position + 2 : position + 4])[0]
        end = position + 2 + length
        if length < 2 or end > len(frame):
            raise PayloadError("a JPEG segment is longer than its frame")
        payload = frame[position + 4 : end]
        if marker == _COM:
            pass
        elif _APP0 <= marker <= _APP15:
            kept = _app_kept(marker, payload)
            if kept is not None:
                state.out.append(_segment(marker, kept))
        elif marker in (_DQT, _DHT):
            state.define(marker, payload)
        elif marker == _DRI:
            if len(payload) < 2:
                raise PayloadError("a JPEG restart interval segment is damaged")
            state.restart = struct.unpack(">H", payload[:2])[0]
            state.out.append(_segment(_DRI, payload[:2]))
        elif marker in _SOF_ANY:
            if state.frame is not None:
                raise PayloadError("a JPEG frame holds two frame headers")
            state.frame, header = _frame(marker, payload)
            state.out.append(header)
        elif marker == _LSE:
            state.out.append(_lse(payload))
        elif marker == _SOS:
            data_end = _scan_end(
                frame, end, state.frame is not None and state.frame.marker == _SOF_LS
            )
            state.out.append(state.scan(payload, frame[end:data_end]))
            scans += 1
            end = data_end
        else:
            raise PayloadError(f"a JPEG frame holds a marker it should not ({marker:#04x})")
        position = end
