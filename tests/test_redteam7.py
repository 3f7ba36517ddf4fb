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
- text in a colour frame drawn in a colour of the same grey as its background
  (magenta on grey): screening saw the mean of the channels only;
- text drawn one value above its background, which the file's own lookup table (a
  palette, a Modality or VOI LUT) shows in white: screening saw the stored values
  only, and a verdict for the same pixel data through another table was reused.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from io import BytesIO
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import record, run_cli
from planted import FAMILY, PATIENT_ID, assert_unpublished, ct, deid, verified_copy
from pydicom import dcmread
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset, FileDataset
from pydicom.sequence import Sequence
from pydicom.tag import Tag

from archive_builder.deid import Donor, Identifiers
from archive_builder.deid.verify import find_leaks, header_bytes
from archive_builder.pixels.review import TEXT_FOUND, review_instance

DIGITS = PATIENT_ID[2:]  # 55512345: the number of the patient's ID, searched on its own
DONOR = Donor(
    key=b"k" * 32, public_id="don-redteamseven", date_offset_days=-400, patient_age="060Y"
)
CR = "1.2.840.10008.5.1.4.1.1.1"  # Computed Radiography Image Storage: published


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
    return verified_copy(source, DONOR, tmp_path / "out")


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


# -- text in a colour of the same grey ----------------------------------------------------


def _colour_instance(text: bool) -> FileDataset:
    """A colour CR of the planted patient: a grey background with noise, and (``text``)
    her name and ID drawn in magenta of the background's grey (red up, green down)."""
    rows, columns = 200, 320
    rng = np.random.default_rng(7)
    image = np.full((rows, columns, 3), 110.0) + rng.normal(0, 3, (rows, columns, 1))
    if text:
        mask = np.zeros((rows, columns), np.uint8)
        for line, y in ((f"{FAMILY.upper()} ANNA", 60), (PATIENT_ID, 120)):
            cv2.putText(mask, line, (10, y), cv2.FONT_HERSHEY_SIMPLEX, 0.8, 255, 2)
        image[mask > 0, 0] += 90
        image[mask > 0, 1] -= 90
    pixels = np.clip(image, 0, 255).astype(np.uint8)
    return _cr_8bit(pixels, "RGB", SamplesPerPixel=3, PlanarConfiguration=0)


def _cr_8bit(pixels: np.ndarray, photometric: str, **attributes: object) -> FileDataset:
    """A CR of the planted patient holding 8-bit ``pixels`` (no rescale, no window), with
    ``attributes`` set, read back from its bytes."""
    ds = ct(
        SOPClassUID=CR,
        Modality="CR",
        SamplesPerPixel=1,
        PhotometricInterpretation=photometric,
        Rows=pixels.shape[0],
        Columns=pixels.shape[1],
        BitsAllocated=8,
        BitsStored=8,
        HighBit=7,
        PixelRepresentation=0,
    )
    ds.file_meta.MediaStorageSOPClassUID = CR
    for keyword in ("RescaleSlope", "RescaleIntercept", "WindowCenter", "WindowWidth"):
        if keyword in ds:
            delattr(ds, keyword)
    for keyword, value in attributes.items():
        setattr(ds, keyword, value)
    ds.PixelData = pixels.tobytes()
    buffer = BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return dcmread(BytesIO(buffer.getvalue()))


def test_text_in_a_colour_of_the_same_grey_is_not_published() -> None:
    drawn = _colour_instance(text=True)
    grey = drawn.pixel_array.mean(axis=2)
    assert np.ptp(grey) < 40  # the text is invisible in the mean of the channels
    assert review_instance(drawn, None).excluded == TEXT_FOUND
    clean = review_instance(_colour_instance(text=False), None)
    assert clean.excluded is None and clean.frames == 1


def test_deid_publishes_no_text_in_a_colour_of_the_same_grey(tmp_path: Path) -> None:
    source, out = tmp_path / "in", tmp_path / "out"
    source.mkdir()
    _colour_instance(text=False).save_as(source / "clean.dcm", enforce_file_format=True)
    drawn = _colour_instance(text=True)
    drawn.SOPInstanceUID = drawn.file_meta.MediaStorageSOPInstanceUID = f"{ct().SOPInstanceUID}9"
    drawn.InstanceNumber = 2
    drawn.save_as(source / "drawn.dcm", enforce_file_format=True)
    result = run_cli("deid", source, out, "--key-file", tmp_path / "deid.key")
    assert result.exit_code == 0, result.output
    assert len(list(out.rglob("*.dcm"))) == 1
    report = json.loads(next(out.rglob("deid-report.json")).read_text())
    assert [e["reason"] for e in report["instances"]["excluded"]] == [TEXT_FOUND]


# -- text drawn one value above its background, shown by a lookup table --------------------


def _hidden_text() -> np.ndarray:
    """8-bit stored values: a noisy gradient of even values, and the planted patient's
    name and ID drawn one value above it (odd): no screening sees a difference of one."""
    rows, columns = 200, 320
    rng = np.random.default_rng(3)
    ramp = 60 + 100 * np.mgrid[0:rows, 0:columns][1] / columns + rng.normal(0, 4, (rows, columns))
    values = ramp.astype(int) & ~1
    mask = np.zeros((rows, columns), np.uint8)
    for line, y in ((f"{FAMILY.upper()} ANNA", 60), (PATIENT_ID, 120)):
        cv2.putText(mask, line, (10, y), cv2.FONT_HERSHEY_SIMPLEX, 0.8, 255, 2)
    values[mask > 0] += 1
    return values.astype(np.uint8)


def _table(reveal: bool) -> list[int]:
    """A 16-bit table of 256 entries: grey as stored, or (``reveal``) odd values white."""
    return [255 * 257 if reveal and i % 2 else i * 257 for i in range(256)]


def _grey_instance(photometric: str, **attributes: object) -> FileDataset:
    """A CR of the planted patient holding ``_hidden_text``, read back from its bytes."""
    return _cr_8bit(_hidden_text(), photometric, **attributes)


def _palette(reveal: bool) -> FileDataset:
    ds = _grey_instance("PALETTE COLOR")
    for colour in ("Red", "Green", "Blue"):
        ds.add_new(f"{colour}PaletteColorLookupTableDescriptor", "US", [256, 0, 16])
        data = np.array(_table(reveal), np.uint16).tobytes()
        ds.add_new(f"{colour}PaletteColorLookupTableData", "OW", data)
    return ds


def _voi_lut(reveal: bool) -> FileDataset:
    lut = Dataset()
    lut.add_new(0x00283002, "US", [256, 0, 16])  # LUT Descriptor
    lut.add_new(0x00283006, "US", _table(reveal))  # LUT Data
    return _grey_instance("MONOCHROME2", VOILUTSequence=Sequence([lut]))


def _modality_lut(reveal: bool) -> FileDataset:
    lut = Dataset()
    lut.add_new(0x00283002, "US", [256, 0, 16])
    lut.add_new(0x00283006, "US", _table(reveal))
    lut.ModalityLUTType = "US"
    return _grey_instance("MONOCHROME2", ModalityLUTSequence=Sequence([lut]))


@pytest.mark.parametrize(
    "make", [_palette, _voi_lut, _modality_lut], ids=["palette", "voi", "modality"]
)
def test_text_a_lookup_table_shows_is_not_published(make: Callable[..., FileDataset]) -> None:
    """The stored values hold the text one value above its background; the table maps
    odd values to white. The same pixel data through a table that shows values as
    stored was screened first and passed: its verdict is not reused."""
    plain = review_instance(make(reveal=False), None)
    assert plain.excluded is None and plain.frames == 1
    assert review_instance(make(reveal=True), None).excluded == TEXT_FOUND
