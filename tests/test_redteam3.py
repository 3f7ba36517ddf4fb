"""A third red team's reproducers: identifiers that reached published files on main.

Each test plants a fictitious patient (``planted.py``) in a real CT of pydicom's
test data, plus one value where a hospital file may hold it, runs the real
``deid`` or ``ingest`` command and searches every published byte; where the
verifier (the last gate) should catch the class on its own, a test puts the
value back into a de-identified file and asks it.

- a name glued to a date-time (DT): the date was shifted and the rest kept as
  written, and the verifier searched dates for whole words only;
- a name in the bytes of numbers stored as binary (US, FD...: a LUT written as US,
  a position in FD), glued to other bytes or in UTF-16: only OB, OW, UN and the
  other byte VRs were searched as bytes;
- a name spelled letter by letter (Q U I B B L E T O N, Q.U.I.B.B...), or in pieces
  of a few letters over the values of an attribute, in allow-listed technical text:
  each piece looks technical, and no rule of matching joined them;
- a name written in UTF-16 (letters kept apart by NUL bytes) in a text attribute:
  ASCII bytes were read one way only; the verifier's search of the encoded header
  refused most such files, but not one with letters glued to it;
- a name in JIS X 0208 (ISO 2022 IR 87, fullwidth Latin letters between escapes)
  in a file whose Specific Character Set does not declare it: ASCII bytes,
  read one way only, as #Q#U#I#B...
"""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
from planted import FAMILY, assert_unpublished, ct, deid, verified_copy
from pydicom import dcmread
from pydicom.dataelem import DataElement, RawDataElement
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue
from pydicom.sequence import Sequence
from pydicom.tag import Tag

from archive_builder.deid import Donor
from archive_builder.deid.verify import find_leaks, header_bytes

STRANGER = "Vandermolen"  # a name no attribute of the header holds: never collected
DONOR = Donor(
    key=b"k" * 32, public_id="don-redteamthree", date_offset_days=-400, patient_age="060Y"
)


# -- text glued to a date or a time --------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        f"20200115093000{FAMILY}",  # glued to the time
        f"20200115093000+0100{FAMILY}",  # glued to the UTC offset
        f"20200115{FAMILY.upper()}",  # glued to the date
    ],
)
def test_a_name_glued_to_a_date_time_is_not_published(tmp_path: Path, value: str) -> None:
    files = deid(ct(AcquisitionDateTime=value), tmp_path)
    assert_unpublished(files, FAMILY)
    published = dcmread(next(p for p in files if p.suffix == ".dcm"))
    assert not str(published.get("AcquisitionDateTime", "") or "")


def test_a_date_time_with_its_utc_offset_is_still_shifted(tmp_path: Path) -> None:
    files = deid(ct(AcquisitionDateTime="20200115093000.5-0500"), tmp_path)
    published = dcmread(next(p for p in files if p.suffix == ".dcm"))
    value = str(published.AcquisitionDateTime)
    assert value.endswith("093000.5-0500") and not value.startswith("20200115"), value


@pytest.mark.parametrize(
    ("keyword", "vr", "value"),
    [
        ("AcquisitionDateTime", "DT", f"20200115093000{STRANGER}"),
        ("ContentDate", "DA", f"2020011{STRANGER}"),
        ("ContentTime", "TM", f"0930{STRANGER}"),
    ],
)
def test_the_verifier_refuses_a_date_or_time_holding_other_text(
    tmp_path: Path, keyword: str, vr: str, value: str
) -> None:
    """Dates and times are searched for identifying values as whole words only, so a name
    glued to one is not found by searching; their form is checked instead, and finds a
    name that no attribute of the header held."""
    source = tmp_path / "in.dcm"
    ct().save_as(source, enforce_file_format=True)
    clean, identifiers = verified_copy(source, DONOR, tmp_path / "out")
    data = value.encode()
    clean[Tag(keyword)] = RawDataElement(Tag(keyword), vr, len(data), data, 0, False, True)
    form = {"DT": "date-time", "DA": "date", "TM": "time of day"}[vr]
    assert find_leaks(clean, identifiers, header_bytes(clean)) == [
        f"{keyword}: a {vr} value that is not a {form}"
    ]


# -- names in numbers stored as binary -----------------------------------------------------


def _lut_as_us(payload: bytes) -> dict[str, object]:
    """A VOI LUT whose data (US or OW) is written as US, holding ``payload``."""
    lut = Dataset()
    lut.LUTDescriptor = [len(payload) // 2, 0, 16]
    words = list(struct.unpack(f"<{len(payload) // 2}H", payload))
    lut.add(DataElement(0x00283006, "US", words))
    return {"VOILUTSequence": Sequence([lut])}


@pytest.mark.parametrize(
    "attributes",
    [
        _lut_as_us(b"Z" + FAMILY.encode() + b"Z"),  # glued: no whole word in the header
        _lut_as_us(b"\x01\x02" + FAMILY.encode("utf-16-le") + b"\x03\x04"),
        # numbers longer than what is read with the header (left unread until needed)
        {
            "DimensionIndexValues": list(
                struct.unpack("<2052L", bytes(8196) + f"Z{FAMILY}Z".encode())
            )
        },
        # a position of three FD numbers, its 24 bytes holding the name
        {
            "DataCollectionCenterPatient": list(
                struct.unpack("<3d", f"Z{FAMILY}Z".encode() + bytes(12))
            )
        },
    ],
    ids=["us-glued", "us-utf16", "ul-unread", "fd-glued"],
)
def test_a_name_in_numbers_stored_as_binary_is_not_published(
    tmp_path: Path, attributes: dict[str, object]
) -> None:
    assert_unpublished(deid(ct(**attributes), tmp_path), FAMILY)


def test_the_verifier_searches_numbers_stored_as_binary_as_bytes(tmp_path: Path) -> None:
    source = tmp_path / "in.dcm"
    ct().save_as(source, enforce_file_format=True)
    clean, identifiers = verified_copy(source, DONOR, tmp_path / "out")
    data = f"Z{FAMILY}Z".encode() + bytes(12)
    tag = Tag("DataCollectionCenterPatient")
    clean[tag] = RawDataElement(tag, "FD", len(data), data, 0, False, True)
    assert find_leaks(clean, identifiers, header_bytes(clean)) == [
        "DataCollectionCenterPatient: a binary value holds an identifying value of the original"
    ]
    # decoded by pydicom (numbers, not bytes), the same value is found too
    clean[tag] = DataElement(tag, "FD", list(struct.unpack("<3d", data)))
    assert find_leaks(clean, identifiers, header_bytes(clean)) != []


# -- names spelled apart -------------------------------------------------------------------

_SPELLED = " ".join(FAMILY.upper())  # Q U I B B L E T O N


@pytest.mark.parametrize(
    "attributes",
    [
        {"Manufacturer": _SPELLED},
        {"ReconstructionMethod": ".".join(FAMILY.upper())},
        {"Manufacturer": f"FFE {_SPELLED}"},
        {"ImageType": ["ORIGINAL", "PRIMARY", _SPELLED[:9], _SPELLED[10:]]},
        {"ConvolutionKernel": "QUI BBL ETO N"},
    ],
    ids=["spaces", "dots", "after-a-word", "over-two-values", "pieces"],
)
def test_a_name_spelled_apart_in_technical_text_is_not_published(
    tmp_path: Path, attributes: dict[str, object]
) -> None:
    files = deid(ct(**attributes), tmp_path)
    published = dcmread(next(p for p in files if p.suffix == ".dcm"))
    for keyword in attributes:
        value = published.get(keyword)
        text = "".join(map(str, value) if isinstance(value, MultiValue) else [str(value or "")])
        assert FAMILY.upper() not in text.replace(" ", "").replace(".", "").upper(), value


def test_the_verifier_finds_a_name_spelled_apart(tmp_path: Path) -> None:
    source = tmp_path / "in.dcm"
    ct().save_as(source, enforce_file_format=True)
    clean, identifiers = verified_copy(source, DONOR, tmp_path / "out")
    clean.Manufacturer = _SPELLED
    assert find_leaks(clean, identifiers, header_bytes(clean)) == [
        "Manufacturer: holds an identifying value of the original"
    ]


# -- text in UTF-16 ------------------------------------------------------------------------


def _raw_text(ds: Dataset, keyword: str, vr: str, data: bytes) -> Dataset:
    data += b" " * (len(data) % 2)
    ds[Tag(keyword)] = RawDataElement(Tag(keyword), vr, len(data), data, 0, False, True)
    return ds


@pytest.mark.parametrize(
    ("keyword", "vr", "data"),
    [
        ("Manufacturer", "LO", FAMILY.encode("utf-16-le")),
        ("Manufacturer", "LO", b"G" + FAMILY.encode("utf-16-be") + b"E"),
        ("ScanOptions", "CS", b"X" + FAMILY.upper().encode("utf-16-le") + b"X"),
        ("ConvolutionKernel", "SH", b"\x00".join(bytes([c]) for c in FAMILY.upper().encode())),
    ],
    ids=["le", "be-glued", "code-string", "nul-apart"],
)
def test_a_name_in_utf16_text_is_removed_not_published(
    tmp_path: Path, keyword: str, vr: str, data: bytes
) -> None:
    files = deid(_raw_text(ct(), keyword, vr, data), tmp_path)  # published, not refused
    assert_unpublished(files, FAMILY)


def test_the_verifier_reads_text_holding_nul_bytes_as_utf16(tmp_path: Path) -> None:
    source = tmp_path / "in.dcm"
    ct().save_as(source, enforce_file_format=True)
    clean, identifiers = verified_copy(source, DONOR, tmp_path / "out")
    _raw_text(clean, "Manufacturer", "LO", b"G" + FAMILY.encode("utf-16-be") + b"E")
    assert find_leaks(clean, identifiers, header_bytes(clean)) == [
        "Manufacturer: holds an identifying value of the original"
    ]


# -- code extensions the character set does not declare -------------------------------------

_JIS = "ＱＵＩＢＢＬＥＴＯＮ".encode("iso2022_jp")  # ESC $ B #Q#U#I#B#B#L#E#T#O#N ESC ( B


@pytest.mark.parametrize("charset", ["ISO_IR 100", None])
def test_a_name_in_undeclared_iso_2022_text_is_not_published(
    tmp_path: Path, charset: str | None
) -> None:
    ds = ct()
    if charset is None:
        del ds.SpecificCharacterSet
    else:
        ds.SpecificCharacterSet = charset
    files = deid(_raw_text(ds, "Manufacturer", "LO", b"GE " + _JIS), tmp_path)
    assert_unpublished(files, _JIS[3:-3])


def test_the_verifier_reads_escapes_the_character_set_does_not_declare(tmp_path: Path) -> None:
    source = tmp_path / "in.dcm"
    ct().save_as(source, enforce_file_format=True)
    clean, identifiers = verified_copy(source, DONOR, tmp_path / "out")
    _raw_text(clean, "Manufacturer", "LO", b"GE " + _JIS)
    assert find_leaks(clean, identifiers, header_bytes(clean)) == [
        "Manufacturer: holds an identifying value of the original"
    ]
