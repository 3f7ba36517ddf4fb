"""Where the Huffman-coded data of a JPEG scan ends, found by walking its codes.

A decoder reads a scan's entropy-coded data until it has decoded the number of
units (8x8 blocks, or samples for lossless JPEG) that the frame's size says,
and ignores whatever comes between that point and the next marker (libjpeg
only warns about "extraneous bytes"). To publish only the bytes the image
needs, the scan is walked code by code, as a decoder would, for sequential DCT
scans (baseline and extended, ISO 10918-1 F.2.2) and lossless scans (H.2.2).
Only code lengths and the number of extra bits are needed: no coefficient or
sample value is computed, so the walk is cheap.

The scan is then written in its canonical form: each restart interval holds
exactly the bytes its units use, with the padding bits of its last byte set to
1 (as F.1.2.3 asks), restart markers numbered in order, no fill bytes.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


class ScanError(ValueError):
    """The scan's coded data is not what its headers say."""


@dataclass(frozen=True)
class HuffmanTable:
    """One table as a DHT segment defines it: code counts per length (16), symbols."""

    counts: bytes
    symbols: bytes

    def steps(self, dc: bool) -> tuple[np.ndarray, np.ndarray]:
        """For every 16-bit window: how many bits the code it starts with and the extra
        bits that follow take (0 where no code starts it), and the code's symbol."""
        return _steps(self, dc)


@functools.lru_cache(maxsize=64)
def _steps(table: HuffmanTable, dc: bool) -> tuple[np.ndarray, np.ndarray]:
    lengths = np.zeros(1 << 16, np.uint8)
    symbols = np.zeros(1 << 16, np.uint8)
    code, index = 0, 0
    for length, count in enumerate(table.counts, start=1):
        for _ in range(count):
            if code >= (1 << length) - 1:  # codes of all 1-bits are not allowed
                raise ScanError("a JPEG Huffman table defines more codes than it can")
            low, high = code << (16 - length), (code + 1) << (16 - length)
            lengths[low:high] = length
            symbols[low:high] = table.symbols[index]
            code, index = code + 1, index + 1
        code <<= 1
    if dc:  # the symbol is the number of extra bits; 16 (lossless only) has none
        extra = np.where(symbols < 16, symbols, 0)
        lengths[symbols > 16] = 0  # not a difference size: no valid code
    else:  # run and size: size extra bits
        extra = symbols & 15
    steps = np.where(lengths > 0, lengths + extra, 0).astype(np.uint8)
    return steps, symbols


@dataclass(frozen=True)
class Unit:
    """What one unit of an MCU is decoded with: its DC (or lossless) table and, for a
    DCT scan, its AC table."""

    dc: HuffmanTable
    ac: HuffmanTable | None


_RESTART = re.compile(rb"\xff[\xd0-\xd7]")


def canonical_scan(data: bytes, units: Sequence[Unit], mcus: int, restart_interval: int) -> bytes:
    """The entropy-coded ``data`` of a scan (from after its SOS segment to the next marker
    other than RSTn) as it is published. ``units`` are the units of one MCU, in order."""
    chunks = _RESTART.split(data)
    per_interval = restart_interval or mcus
    expected = -(-mcus // per_interval)
    if len(chunks) != expected:
        raise ScanError("a JPEG scan has another number of restart intervals than it says")
    plan = [(u.dc.steps(True), u.ac.steps(False) if u.ac else None) for u in units]
    out = []
    for number, chunk in enumerate(chunks):
        chunk = chunk.rstrip(b"\xff")  # fill bytes before a marker
        if chunk.count(b"\xff") != chunk.count(b"\xff\x00"):
            raise ScanError("a JPEG scan holds a byte 0xFF that is neither stuffed nor a marker")
        count = min(per_interval, mcus - number * per_interval)
        out.append(_interval(chunk.replace(b"\xff\x00", b"\xff"), plan, count))
    joined = bytearray(out[0])
    for number, interval in enumerate(out[1:]):
        joined += bytes((0xFF, 0xD0 + number % 8)) + interval
    return bytes(joined)


def _windows(data: bytes) -> np.ndarray:
    """The 16 bits starting at every bit position of ``data`` (1-bits past its end)."""
    padded = np.frombuffer(data + b"\xff\xff\xff", np.uint8).astype(np.uint32)
    triples = (padded[:-2] << 16) | (padded[1:-1] << 8) | padded[2:]
    windows = np.empty(8 * len(triples), np.uint16)
    for bit in range(8):
        windows[bit::8] = (triples >> (8 - bit)) & 0xFFFF
    return windows


_Steps = tuple[np.ndarray, np.ndarray]


def _interval(data: bytes, plan: Sequence[tuple[_Steps, _Steps | None]], mcus: int) -> bytes:
    """The bytes of one restart interval (unstuffed ``data``) that its ``mcus`` use,
    stuffed again, the padding bits of the last one set to 1. ``plan`` holds the
    steps of each unit's tables."""
    windows = _windows(data)
    at_bit: dict[int, bytes] = {}

    def at_every_bit(array: np.ndarray) -> bytes:
        if id(array) not in at_bit:
            at_bit[id(array)] = array[windows].tobytes()
        return at_bit[id(array)]

    dc_units = [at_every_bit(dc[0]) for dc, _ in plan]
    units = [
        (
            at_every_bit(dc[0]),
            at_every_bit(ac[0]) if ac else b"",
            at_every_bit(ac[1]) if ac else b"",
        )
        for dc, ac in plan
    ]
    position = 0
    try:
        if all(ac is None for _, ac in plan):  # lossless: one code (and its bits) a unit
            for _ in range(mcus):
                for dc_steps in dc_units:
                    step = dc_steps[position]
                    if not step:
                        raise ScanError("a JPEG scan holds a code its tables do not define")
                    position += step
        else:
            position = _blocks(units, mcus)
    except IndexError:
        raise ScanError("a JPEG scan ends inside its image data") from None
    if position > 8 * len(data):
        raise ScanError("a JPEG scan ends inside its image data")
    used = bytearray(data[: -(-position // 8)])
    if position % 8:
        used[-1] |= (1 << (8 - position % 8)) - 1
    return bytes(used).replace(b"\xff", b"\xff\x00")


def _blocks(units: Sequence[tuple[bytes, bytes, bytes]], mcus: int) -> int:
    """The bit position after ``mcus`` MCUs of 8x8 blocks (F.2.2: a DC difference, then
    AC coefficients up to the 63rd or an end-of-block code)."""
    position = 0
    for _ in range(mcus):
        for dc_steps, ac_steps, ac_symbols in units:
            step = dc_steps[position]
            if not step:
                raise ScanError("a JPEG scan holds a code its tables do not define")
            position += step
            index = 1
            while index <= 63:
                step, symbol = ac_steps[position], ac_symbols[position]
                if not step:
                    raise ScanError("a JPEG scan holds a code its tables do not define")
                position += step
                if symbol & 15:
                    index += (symbol >> 4) + 1
                elif symbol == 0xF0:
                    index += 16
                else:
                    break  # end of block
            if index > 64:
                raise ScanError("a JPEG block holds more than 64 coefficients")
    return position
