"""ICC colour profiles: the colour data is published, the text typed into them is not.

A name that no attribute of the header holds cannot be searched for; in a
colour profile it is not searched, it is replaced (``deid/icc.py``).
"""

from __future__ import annotations

import io
import struct
import warnings
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageCms
from planted import assert_unpublished, ct, deid
from pydicom import dcmread

from archive_builder.deid import icc
from archive_builder.deid.identifiers import Identifiers
from archive_builder.deid.verify import find_leaks, header_bytes

CALIBRATOR = "Hannelore Wexford"  # who calibrated the screen: in no attribute of the header
DEVICE = b"WXFD"  # her initials as the device model signature


def srgb() -> bytes:
    """A real profile: Little CMS's sRGB, through Pillow."""
    return bytes(ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes())


def with_text(profile: bytes) -> bytes:
    """``profile`` with the calibrator's name in its description (UTF-16, mluc), in a
    device model description (ASCII, ICC v2 desc), and her initials and a date in the
    header: written here tag by tag from the ICC specification, not by the code tested."""
    (count,) = struct.unpack(">I", profile[128:132])
    tags = []
    for index in range(count):
        entry = profile[132 + 12 * index : 144 + 12 * index]
        signature, offset, size = struct.unpack(">4sII", entry)
        tags.append((signature, profile[offset : offset + size]))
    name16 = f"Calibrated by {CALIBRATOR}".encode("utf-16-be")
    mluc = b"mluc\0\0\0\0" + struct.pack(">II2s2sII", 1, 12, b"en", b"GB", len(name16), 28)
    tags = [(s, mluc + name16 if s == b"desc" else d) for s, d in tags]
    ascii_ = f"Screen of {CALIBRATOR}".encode() + b"\0"
    tags.append((b"dmdd", b"desc\0\0\0\0" + struct.pack(">I", len(ascii_)) + ascii_ + bytes(78)))
    table_end = 132 + 12 * len(tags)
    body, table = b"", struct.pack(">I", len(tags))
    for signature, data in tags:
        body += bytes(-(table_end + len(body)) % 4)
        table += struct.pack(">4sII", signature, table_end + len(body), len(data))
        body += data
    header = bytearray(profile[:128])
    header[0:4] = struct.pack(">I", table_end + len(body))
    header[24:36] = struct.pack(">6H", 2019, 4, 2, 9, 30, 0)
    header[52:56] = DEVICE
    return bytes(header) + table + body


def lab(profile: bytes) -> np.ndarray:
    """An image's colours through ``profile`` into Lab, by Little CMS."""
    image = Image.fromarray(np.random.default_rng(7).integers(0, 256, (16, 16, 3), np.uint8))
    source = ImageCms.ImageCmsProfile(io.BytesIO(profile))
    transform = ImageCms.buildTransform(source, ImageCms.createProfile("LAB"), "RGB", "LAB")
    return np.asarray(ImageCms.applyTransform(image, transform))


def test_a_name_typed_into_a_colour_profile_is_not_published(tmp_path: Path) -> None:
    profile = with_text(srgb())
    shown = ImageCms.getProfileDescription(ImageCms.ImageCmsProfile(io.BytesIO(profile)))
    assert CALIBRATOR in shown  # Little CMS reads the name planted
    files = deid(ct(ICCProfile=profile), tmp_path)
    assert_unpublished(files, CALIBRATOR)
    assert_unpublished(files, DEVICE)
    published = dcmread(next(p for p in files if p.suffix == ".dcm")).ICCProfile
    assert struct.unpack(">6H", published[24:36]) == (0,) * 6  # no creation date
    # the colours are those of the profile given, and Little CMS reads what is published
    assert np.array_equal(lab(published), lab(profile))
    description = ImageCms.getProfileDescription(ImageCms.ImageCmsProfile(io.BytesIO(published)))
    assert description.strip() == icc.TEXT


def test_a_real_profile_keeps_its_colour_data(tmp_path: Path) -> None:
    profile = srgb()
    files = deid(ct(ICCProfile=profile), tmp_path)
    published = dcmread(next(p for p in files if p.suffix == ".dcm")).ICCProfile
    assert np.array_equal(lab(published), lab(profile))
    assert icc.canonical(published) == published  # de-identifying again changes nothing


def test_the_verifier_refuses_a_colour_profile_with_its_text(tmp_path: Path) -> None:
    """The last gate does not rely on the engine: a profile put back with its text is found."""
    files = deid(ct(ICCProfile=srgb()), tmp_path)
    clean = dcmread(next(p for p in files if p.suffix == ".dcm"))
    nothing = Identifiers()
    assert find_leaks(clean, nothing, header_bytes(clean)) == []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clean.ICCProfile = with_text(srgb())
    assert find_leaks(clean, nothing, header_bytes(clean)) == [
        "ICCProfile: a colour profile that is not in canonical form (free text may survive)"
    ]


def iccmax(profile: bytes) -> bytes:
    """``profile`` as version 5 (iccMAX), its reserved header bytes holding the name."""
    header = bytearray(with_text(profile)[:128])
    header[8] = 5
    header[100:128] = CALIBRATOR.encode().ljust(28, b"\0")
    return bytes(header) + with_text(profile)[128:]


@pytest.mark.parametrize("kind", ["truncated", "iccmax"])
def test_a_profile_that_cannot_be_read_is_not_published(tmp_path: Path, kind: str) -> None:
    if kind == "truncated":
        profile = srgb()[:140] + f"by {CALIBRATOR}".encode() + b"\0"
    else:
        profile = iccmax(srgb())
    files = deid(ct(ICCProfile=profile + b"\0" * (len(profile) % 2)), tmp_path)
    assert "ICCProfile" not in dcmread(next(p for p in files if p.suffix == ".dcm"))
    assert_unpublished(files, CALIBRATOR)


def tags_of(profile: bytes) -> list[tuple[bytes, bytes]]:
    (count,) = struct.unpack(">I", profile[128:132])
    entries = [struct.unpack(">4sII", profile[132 + 12 * i : 144 + 12 * i]) for i in range(count)]
    return [(signature, profile[offset : offset + size]) for signature, offset, size in entries]


def assembled(header: bytes, tags: list[tuple[bytes, bytes]]) -> bytes:
    """A profile laid out as the engine lays one out (tags in order, four-byte aligned,
    shared data shared): written here from the specification, not by the code tested."""
    table_end = 132 + 12 * len(tags)
    body, table, placed = b"", struct.pack(">I", len(tags)), {}
    for signature, data in tags:
        if data not in placed:
            body += bytes(-(table_end + len(body)) % 4)
            placed[data] = table_end + len(body)
            body += data
        table += struct.pack(">4sII", signature, placed[data], len(data))
    body += bytes(-(table_end + len(body)) % 4)
    return struct.pack(">I", table_end + len(body)) + header[4:128] + table + body


NAME = CALIBRATOR.encode()


def planted(kind: str) -> bytes:
    """A published-looking profile (canonical: text replaced, header zeroed) with the
    calibrator's name or initials where its colour data or layout leave room for bytes."""
    base = {"lab": "LAB", "xyz": "XYZ"}.get(kind.split("-")[0], "sRGB")
    published = icc.canonical(
        bytes(ImageCms.ImageCmsProfile(ImageCms.createProfile(base)).tobytes())
    )
    header, tags = bytearray(published[:128]), tags_of(published)
    if kind == "trailing":  # after a parametric curve's parameters, inside the tag's size
        tags = [(s, d + NAME if s == b"rTRC" else d) for s, d in tags]
    elif kind in ("lab-trailing", "xyz-trailing"):  # after a lookup table, inside its size
        tags = [(s, d + NAME if s == b"A2B0" else d) for s, d in tags]
    elif kind == "xyz-gap":  # between an mAB's header and its first element
        tags = [(s, mab_with_gap(d) if s == b"A2B0" else d) for s, d in tags]
    elif kind == "lab-pad":  # the reserved byte after an mft2's grid points
        tags = [(s, d[:11] + b"W" + d[12:] if s == b"A2B0" else d) for s, d in tags]
    elif kind == "signatures":  # tag signatures spelling the name, each a copy of a curve
        curve = dict(tags)[b"rTRC"]
        tags += [(NAME[i : i + 4].ljust(4), curve) for i in range(0, len(NAME), 4)]
    elif kind == "private":  # a private tag of bytes (uInt8ArrayType)
        tags.append((b"priv", b"ui08\0\0\0\0" + NAME))
    elif kind == "technology":  # a signature tag of no registered value
        tags.append((b"tech", b"sig \0\0\0\0" + DEVICE))
    elif kind == "device-class":
        header[12:16] = DEVICE
    elif kind == "intent":
        header[64:68] = DEVICE
    elif kind == "illuminant":
        header[68:80] = NAME[:12]
    elif kind == "version":
        header[10:12] = DEVICE[:2]
    return assembled(bytes(header), tags)


def mab_with_gap(data: bytes) -> bytes:
    """An mAB tag with the name between its 32-byte header and its elements, whose
    offsets are moved past it."""
    offsets = struct.unpack(">5I", data[12:32])
    gap = NAME + bytes(-len(NAME) % 4)
    moved = struct.pack(">5I", *(o + len(gap) if o else 0 for o in offsets))
    return data[:12] + moved + gap + data[32:]


ATTACKS = [
    "trailing",
    "lab-trailing",
    "xyz-trailing",
    "xyz-gap",
    "lab-pad",
    "signatures",
    "private",
    "technology",
    "device-class",
    "intent",
    "illuminant",
    "version",
]


@pytest.mark.parametrize("kind", ATTACKS)
def test_no_byte_of_a_profile_outside_its_colour_data_is_published(
    tmp_path: Path, kind: str
) -> None:
    """Free bytes that are not colour numbers (inside a tag's size after its data, between
    a table's parts, reserved bytes, tag signatures, header fields) are not published,
    and the verifier refuses a profile holding them."""
    profile = planted(kind)
    needle = {"technology": DEVICE, "device-class": DEVICE, "intent": DEVICE}.get(kind, NAME[:4])
    needle = {"version": DEVICE[:2], "lab-pad": b"W\0\1\0\0"}.get(kind, needle)
    assert needle in profile
    files = deid(ct(ICCProfile=profile), tmp_path)
    published = dcmread(next(p for p in files if p.suffix == ".dcm"))
    assert needle not in published.get("ICCProfile", b"")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        published.ICCProfile = profile
    assert find_leaks(published, Identifiers(), header_bytes(published)) == [
        "ICCProfile: a colour profile that is not in canonical form (free text may survive)"
    ]
