"""Hostile DICOM files that hide a patient's identifiers outside the header's text.

Each case is a real file of pydicom's test data, made an instance of one
fictitious patient's study, with the patient's family name (and ID) hidden
where a header verifier does not look: in comment and application segments
of compressed frames, after the image in native pixel data, in the bits above
Bits Stored, in a binary attribute as UTF-16, in header values that a report
would repeat. ``leaks`` searches bytes for them in every encoding used here.
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pydicom
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset
from pydicom.encaps import encapsulate, generate_frames

FAMILY = "Quibbleton"
PATIENT_ID = "PX55512345"
BIRTH_DATE = "19610423"
STUDY_UID = "1.2.826.0.1.3680043.10.777.1"
SECRET = f"{FAMILY} {PATIENT_ID}"


def sample(name: str) -> Dataset:
    path = get_testdata_file(name, download=False)
    assert path, f"pydicom test file {name} missing"
    return pydicom.dcmread(path)


def patient_instance(ds: Dataset, number: int, **attributes: object) -> Dataset:
    """``ds`` as instance ``number`` (its own series) of the fictitious patient's study."""
    ds.PatientName = f"{FAMILY}^Anna"
    ds.PatientID = PATIENT_ID
    ds.PatientBirthDate = BIRTH_DATE
    ds.StudyInstanceUID = STUDY_UID
    ds.SeriesInstanceUID = f"{STUDY_UID}.{number}"
    ds.SeriesNumber = number
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = f"{STUDY_UID}.{number}.1"
    ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
    for keyword, value in attributes.items():
        setattr(ds, keyword, value)
    return ds


def _frames(ds: Dataset) -> list[bytes]:
    return list(generate_frames(ds.PixelData, number_of_frames=int(ds.get("NumberOfFrames", 1))))


def _segment(marker: int, payload: bytes) -> bytes:
    return bytes((0xFF, marker)) + struct.pack(">H", len(payload) + 2) + payload


def jpeg_with_payloads(frame: bytes) -> bytes:
    """A JPEG (or JPEG-LS) frame with the secret in a COM segment, an Exif-like APP1
    segment (UTF-16), a JFIF thumbnail (where the frame has a JFIF header: it tells
    decoders how colour is coded), and after the end-of-image marker."""
    assert frame[:2] == b"\xff\xd8"
    start = 2
    inserted = _segment(0xFE, SECRET.encode()) + _segment(
        0xE1, b"Exif\x00\x00" + SECRET.encode("utf-16-le")
    )
    if frame[2:4] == b"\xff\xe0" and frame[6:11] == b"JFIF\x00":
        start = 4 + struct.unpack(">H", frame[4:6])[0]
        thumbnail = frame[6:18] + b"\x02\x01" + SECRET.encode()[:6]  # 2x1 pixels
        inserted = _segment(0xE0, thumbnail) + inserted
    end = frame.rindex(b"\xff\xd9") + 2
    return frame[:2] + inserted + frame[start:end] + b"\x00" + SECRET.encode("utf-16-be") + b"\x00"


def j2k_with_payloads(frame: bytes) -> bytes:
    """A JPEG 2000 codestream with the secret in a main-header COM marker, in a COM
    marker of its first tile-part header (its length corrected), and after EOC."""
    assert frame[:2] == b"\xff\x4f"
    comment = _segment(0x64, b"\x00\x01" + SECRET.encode())
    sot = frame.index(b"\xff\x90")
    psot = struct.unpack(">I", frame[sot + 6 : sot + 10])[0]
    tile_part = frame[sot:]
    if psot:
        tile_part = tile_part[:6] + struct.pack(">I", psot + len(comment)) + tile_part[10:]
    tile_part = tile_part[:12] + comment + tile_part[12:]
    end = frame.rindex(b"\xff\xd9")
    return (
        frame[:sot]
        + comment
        + tile_part[: len(tile_part) - (len(frame) - end)]
        + (b"\xff\xd9" + SECRET.encode())
    )


def _encapsulated(ds: Dataset, frames: list[bytes]) -> None:
    ds.PixelData = encapsulate(frames, has_bot=len(frames) > 1)
    ds["PixelData"].is_undefined_length = True


def cases() -> dict[str, tuple[Dataset, str]]:
    """Each hostile case: (dataset, what the archive must do: 'stripped', 'excluded',
    'cleaned' (the attribute goes), or 'reported' (excluded, the report safe))."""
    out: dict[str, tuple[Dataset, str]] = {}

    ds = patient_instance(
        sample("JPEG-LL.dcm"), 1, Modality="CT", SOPClassUID="1.2.840.10008.5.1.4.1.1.2"
    )
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
    _encapsulated(ds, [jpeg_with_payloads(f) for f in _frames(ds)])
    out["jpeg-com-app-trailing"] = (ds, "stripped")

    ds = patient_instance(sample("MR_small_jpeg_ls_lossless.dcm"), 2)
    _encapsulated(ds, [jpeg_with_payloads(f) for f in _frames(ds)])
    out["jpeg-ls-com-app-trailing"] = (ds, "stripped")

    ds = patient_instance(sample("693_J2KR.dcm"), 3)
    _encapsulated(ds, [j2k_with_payloads(f) for f in _frames(ds)])
    out["j2k-com-markers"] = (ds, "stripped")

    ds = patient_instance(sample("CT_small.dcm"), 4)
    ds.PixelData = ds.PixelData + SECRET.encode() + b"\x00" * (len(SECRET) % 2)
    out["native-trailing-bytes"] = (ds, "excluded")

    ds = patient_instance(sample("emri_small.dcm"), 5)  # 12 bits stored of 16
    values = np.frombuffer(ds.PixelData, dtype="<u2").copy().reshape(10, 64, 64)
    values[3, 20:28, 8:56] |= 0x8000  # an overlay drawn into bit 15 of one frame
    ds.PixelData = values.tobytes()
    out["native-high-bits"] = (ds, "excluded")

    for number, (name, encoding, pad) in enumerate(
        [("le", "utf-16-le", b""), ("be", "utf-16-be", b""), ("odd", "utf-16-le", b"\x01")], 6
    ):
        ds = patient_instance(sample("CT_small.dcm"), number)
        profile = b"\x00\x00\x02\x0cADBEmntrRGB XYZ " + pad + f"desc {SECRET}".encode(encoding)
        ds.ICCProfile = profile + b"\x00" * (len(profile) % 2)
        out[f"icc-profile-utf16-{name}"] = (ds, "cleaned")

    ds = patient_instance(sample("CT_small.dcm"), 9, Modality=FAMILY.upper())
    ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID = BIRTH_DATE
    out["report-header-values"] = (ds, "reported")
    return out


def write_cases(folder: Path, names: list[str] | None = None) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    written = {}
    for name, (ds, _) in cases().items():
        if names is None or name in names:
            path = folder / f"{name}.dcm"
            ds.save_as(path, enforce_file_format=True)
            written[name] = path
    return written


def leaks(data: bytes) -> list[str]:
    """The planted values found in ``data``, in any encoding the cases use."""
    lowered = data.lower()
    found = []
    for value in (FAMILY, PATIENT_ID, BIRTH_DATE):
        for encoding in ("latin-1", "utf-16-le", "utf-16-be"):
            if value.lower().encode(encoding) in lowered:
                found.append(f"{value} ({encoding})")
    return found
