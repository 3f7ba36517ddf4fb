"""A seventh red team's reproducers: identifiers that reached published files on main.

Each test plants a fictitious patient (``planted.py``) in a real file of pydicom's
test data, plus one value where a hospital file (or a hostile donor) may hold it,
runs the real ``deid`` or ``ingest`` command (or the pixel stage) and searches what
is published; where the verifier should catch the class on its own, a test puts
the value back into a de-identified file and asks it.

- an ID written as another spelling of its number in a number attribute (IS, DS:
  0055512345, 5.5512345E7, 55512345.0): numbers were kept as read, the verifier
  searched them as written, for whole words only, and instances.json (from there
  the catalogs and pages) publishes the number as read: 55512345;
- pixel data inside a sequence item (a functional group): kept at every depth like
  a file's own, but neither screened by the pixel stage nor searched by the
  verifier, so a name glued to other bytes there was published;
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import record, run_cli
from planted import FAMILY, PATIENT_ID, assert_unpublished, ct, deid
from pydicom import dcmread
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset, FileDataset
from pydicom.sequence import Sequence
from pydicom.tag import Tag

from archive_builder.deid import Donor, Identifiers, deidentify_study
from archive_builder.deid.study import collect_identifiers
from archive_builder.deid.verify import find_leaks, header_bytes
from archive_builder.intake import Instance
from archive_builder.intake.package import read_header

DIGITS = PATIENT_ID[2:]  # 55512345: the number of the patient's ID, searched on its own
DONOR = Donor(
    key=b"k" * 32, public_id="don-redteamseven", date_offset_days=-400, patient_age="060Y"
)


# -- an ID written as another spelling of its number ---------------------------------------

SPELLINGS = [
    ("SeriesNumber", "0055512345"),  # IS, leading zeros
    ("SliceThickness", "5.5512345E7"),  # DS, an exponent
    ("SliceLocation", "55512345.0"),  # DS, a decimal point
]


@pytest.mark.parametrize(("keyword", "value"), SPELLINGS)
def test_an_id_written_as_another_spelling_of_its_number_is_not_published(
    tmp_path: Path, keyword: str, value: str
) -> None:
    files = deid(ct(**{keyword: value}), tmp_path)
    assert_unpublished(files, DIGITS)
    published = dcmread(next(p for p in files if p.suffix == ".dcm"), stop_before_pixels=True)
    assert keyword not in published


def _clean_copy(tmp_path: Path, ds: FileDataset) -> tuple[FileDataset, Identifiers]:
    """A de-identified copy of ``ds`` that the verifier passes, and its identifiers."""
    source = tmp_path / "in.dcm"
    ds.save_as(source, enforce_file_format=True)
    header, reason = read_header(source)
    assert header is not None, reason
    instance = Instance(source, header)
    identifiers = collect_identifiers([instance], DONOR)
    result = deidentify_study([instance], DONOR, tmp_path / "out")
    clean = dcmread(tmp_path / "out" / result.outputs[0].relpath)
    assert find_leaks(clean, identifiers, header_bytes(clean)) == []
    return clean, identifiers


@pytest.mark.parametrize(("keyword", "value"), SPELLINGS)
def test_the_verifier_reads_numbers_as_a_reader_shows_them(
    tmp_path: Path, keyword: str, value: str
) -> None:
    clean, identifiers = _clean_copy(tmp_path, ct())
    tag, vr, data = Tag(keyword), "IS" if keyword == "SeriesNumber" else "DS", value.encode()
    clean[tag] = RawDataElement(tag, vr, len(data), data, 0, False, True)
    assert find_leaks(clean, identifiers, header_bytes(clean)) == [
        f"{keyword}: holds an identifying value of the original"
    ]


@pytest.mark.slow
def test_an_id_written_as_another_number_reaches_no_instances_json(
    archive_dir: Path, make_package, tmp_path: Path
) -> None:
    source = tmp_path / "planted.dcm"
    ct(SeriesNumber="0055512345", SliceThickness="55512345.0").save_as(
        source, enforce_file_format=True
    )
    result = run_cli("ingest", archive_dir, make_package([source], rec=record()))
    assert result.exit_code == 0, result.output
    public_id = result.output.split("added as ")[1].split()[0]
    dataset = archive_dir / "datasets" / public_id
    instances = json.loads((dataset / "instances.json").read_text())
    assert instances[0]["SeriesNumber"] is None and instances[0]["SliceThickness"] is None
    for path in dataset.rglob("*"):
        if path.is_file() and ".git" not in path.parts:
            assert DIGITS.encode() not in path.read_bytes(), path.name


# -- pixel data inside a sequence item -----------------------------------------------------


def _with_nested_pixel_data(payload: bytes) -> FileDataset:
    item = Dataset()
    item.add_new(0x7FE00010, "OB", payload)
    group = Dataset()
    group.PixelMeasuresSequence = Sequence([item])
    return ct(SharedFunctionalGroupsSequence=Sequence([group]))


def test_pixel_data_inside_a_sequence_item_is_not_published(tmp_path: Path) -> None:
    payload = b"\x01\x02Z" + FAMILY.encode() + b"Z\x03\x04"  # glued: no whole word
    files = deid(_with_nested_pixel_data(payload), tmp_path)
    assert_unpublished(files, FAMILY)
    published = dcmread(next(p for p in files if p.suffix == ".dcm"))
    group = published.SharedFunctionalGroupsSequence[0]
    assert all(Tag(0x7FE00010) not in item for item in group.get("PixelMeasuresSequence", []))


def test_the_verifier_refuses_pixel_data_inside_a_sequence_item(tmp_path: Path) -> None:
    clean, identifiers = _clean_copy(tmp_path, ct())
    item = Dataset()
    item.add_new(0x7FE00010, "OB", b"\x00\x01")
    clean.SharedFunctionalGroupsSequence = Sequence([item])
    assert find_leaks(clean, identifiers, header_bytes(clean)) == [
        "SharedFunctionalGroupsSequence: pixel data inside a sequence item survived"
    ]
