"""Identifiers that survive in text: every class a red-team review found, at the DICOM output.

Each case plants a fictitious patient's identifiers in a real CT file and
copies of them, spelled differently or hidden, where the engine keeps text:
allow-listed technical text, code meanings, descriptions. The file goes
through both ways the archive de-identifies (``ingest``'s study pipeline and
the ``deid`` folder command); both must publish it, and neither may publish
any of the planted spellings, searched in the written bytes and in every
value read back.
"""

from __future__ import annotations

import struct
import unicodedata
import warnings
import zlib
from io import BytesIO
from pathlib import Path

import pytest
from conftest import run_cli, sample
from pydicom import dcmread
from pydicom.dataset import Dataset, FileDataset
from pydicom.filereader import _read_file_meta_info, read_preamble
from pydicom.sequence import Sequence
from pydicom.uid import DeflatedExplicitVRLittleEndian

from archive_builder.deid import Donor, deidentify_study
from archive_builder.deid.folder import deidentify_folder
from archive_builder.intake import Instance
from archive_builder.intake.package import read_header

KEY = bytes(range(11, 43))
DONOR = Donor(key=KEY, public_id="don-textclasses1", date_offset_days=-700, patient_age="055Y")
CT = sample("CT_small.dcm").read_bytes()


def _ct(**attributes: object) -> FileDataset:
    ds = dcmread(BytesIO(CT))
    for keyword, value in attributes.items():
        setattr(ds, keyword, value)
    return ds


def _code(scheme: str, value: str, meaning: str, **more: str) -> Dataset:
    item = Dataset()
    item.CodeValue = value
    item.CodingSchemeDesignator = scheme
    item.CodeMeaning = meaning
    for keyword, text in more.items():
        setattr(item, keyword, text)
    return item


def _texts(ds: Dataset) -> list[str]:
    """Every value of ``ds`` as pydicom reads it, at every depth."""
    out: list[str] = []
    for elem in ds.iterall():
        if elem.VR not in ("SQ", "OB", "OW", "UN") and elem.value is not None:
            out.append(str(elem.value))
    return out


def _published(ds: FileDataset | bytes, tmp_path: Path) -> list[tuple[bytes, Dataset]]:
    """De-identify ``ds`` (or a file's bytes) as ingest does and as the deid command does:
    (bytes, dataset) of each written file; both must write it."""
    source = tmp_path / "in" / "source.dcm"
    source.parent.mkdir(parents=True)
    if isinstance(ds, bytes):
        source.write_bytes(ds)
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds.save_as(source, enforce_file_format=True)
    header, reason = read_header(source)
    assert header is not None, reason
    result = deidentify_study([Instance(source, header)], DONOR, tmp_path / "study")
    ingested = tmp_path / "study" / result.outputs[0].relpath
    outcomes = list(deidentify_folder(tmp_path / "in", tmp_path / "folder", KEY, jobs=1))
    assert [o.status for o in outcomes] == ["ok"], [o.message for o in outcomes]
    (folder_file,) = (tmp_path / "folder").rglob("*.dcm")
    return [(p.read_bytes(), dcmread(p)) for p in (ingested, folder_file)]


def _folded(text: str) -> str:
    return unicodedata.normalize("NFC", text).casefold()


def _assert_absent(outputs: list[tuple[bytes, Dataset]], needles: list[str]) -> None:
    for data, ds in outputs:
        values = _folded("\n".join(_texts(ds)))
        readings = [_folded(data.decode(c, errors="replace")) for c in ("latin-1", "utf-8")]
        for needle in needles:
            assert _folded(needle) not in values, needle
            if needle.isascii() and len(needle) >= 4:
                assert all(_folded(needle) not in r for r in readings), needle


def test_names_in_other_spellings_are_removed(tmp_path: Path) -> None:
    """MÜLLER in the header, MUELLER, MULLER and decomposed Müller in kept text."""
    ds = _ct(
        SpecificCharacterSet="ISO_IR 192",
        PatientName="MÜLLER^JOSÉ",
        ConvolutionKernel="MUELLER",
        ReceiveCoilName="JOSE",
        SequenceName="MULLER",
        AnatomicRegionSequence=Sequence([_code("99LOCAL", "X1", "Mu\u0308ller")]),
    )
    outputs = _published(ds, tmp_path)
    _assert_absent(outputs, ["MUELLER", "MULLER", "JOSE", "Müller", "Mu\u0308ller"])
    assert "ConvolutionKernel" not in outputs[0][1]


@pytest.mark.parametrize(
    ("charset", "name", "planted"),
    [
        (["", "ISO 2022 IR 87"], "Yamada^Tarou=山田^太郎=やまだ^たろう", "太郎"),
        ("GB18030", "张^三", "张三"),
        (["", "ISO 2022 IR 149"], "Hong^Gildong=洪^吉洞=홍^길동", "길동"),
        ("ISO_IR 192", "王小明", "小明"),
    ],
)
def test_cjk_names_of_one_or_two_characters_are_removed(
    tmp_path: Path, charset: str | list[str], name: str, planted: str
) -> None:
    ds = _ct(SpecificCharacterSet=charset, PatientName=name, ReceiveCoilName=planted)
    outputs = _published(ds, tmp_path)
    _assert_absent(outputs, [planted])
    assert "ReceiveCoilName" not in outputs[0][1]


def test_short_hyphenated_and_binary_names_are_removed(tmp_path: Path) -> None:
    ds = _ct(
        PatientName="LI^NA",
        ConvolutionKernel="LINA",
        ReceiveCoilName="NA LI",
        ReferringPhysicianName="Smith-Jones^Mary",
        SequenceName="JONES",
    )
    # another name of the patient, stored as OB (a VR that is not PN)
    ds.add_new(0x00101001, "OB", b"Quorvandel^Zed ")
    ds.TransmitCoilName = "QUORVANDEL"
    outputs = _published(ds, tmp_path)
    _assert_absent(outputs, ["LINA", "NA LI", "JONES", "QUORVANDEL"])


def test_words_of_institutions_and_addresses_are_removed(tmp_path: Path) -> None:
    ds = _ct(
        InstitutionName="Elmwood Valley Hospital",
        InstitutionAddress="12 Quarry Lane, Bramblefield",
        ReceiveCoilName="ELMWOOD",
        SequenceName="BRAMBLEFIELD",
    )
    _assert_absent(_published(ds, tmp_path), ["ELMWOOD", "BRAMBLEFIELD"])


def test_glued_split_and_short_ids_are_removed(tmp_path: Path) -> None:
    ds = _ct(
        PatientName="SMITHERS^JOHN",
        PatientID="55512345",
        OtherPatientIDs=["314159265"],
        ConvolutionKernel="JSMITHERSG",
        ReceiveCoilName="MRN55512345",
        SequenceName="314_159_265",
        SeriesDescription="T1 AX 314 159 265",
    )
    outputs = _published(ds, tmp_path)
    _assert_absent(outputs, ["JSMITHERSG", "MRN55512345", "314_159_265", "314 159 265"])
    assert outputs[0][1].SeriesDescription == "T1 AX"


def test_a_short_patient_id_is_removed(tmp_path: Path) -> None:
    ds = _ct(PatientID="A12", SeriesDescription="T1 A12 AXIAL", ReceiveCoilName="A12")
    outputs = _published(ds, tmp_path)
    _assert_absent(outputs, ["A12"])
    assert outputs[0][1].SeriesDescription == "T1 AXIAL"


@pytest.mark.parametrize("given", ["Don", "May", "Will"])
def test_a_name_that_is_a_word_of_the_engines_own_text_does_not_refuse_the_study(
    tmp_path: Path, given: str
) -> None:
    """The public id the engine writes ("don-...", "pt-...") and the report's fixed policy
    ("pixels may show identifiers") name no one: a donor called Don or May is published."""
    outputs = _published(_ct(PatientName=f"Quellbrook^{given}"), tmp_path)
    assert outputs[0][1].PatientName == DONOR.public_id


def test_free_text_in_code_meanings_is_replaced_by_the_standards_meaning(tmp_path: Path) -> None:
    ds = _ct(
        AnatomicRegionSequence=Sequence(
            [
                _code("SCT", "12738006", "Brain, read by Dr Quillfeather at ward 5"),
                _code("99LOCAL", "BR1", "Brain as seen by Quillfeather"),
                _code("SRT", "T-A0100", "Quillfeather's brain"),
            ]
        )
    )
    outputs = _published(ds, tmp_path)
    _assert_absent(outputs, ["Quillfeather", "ward 5", "read by"])
    items = outputs[0][1].AnatomicRegionSequence
    assert [item.get("CodeMeaning") for item in items] == ["Brain", "Brain", "Brain"]


def test_ages_of_90_and_over_leave_descriptions(tmp_path: Path) -> None:
    ds = _ct(
        StudyDescription="CT HEAD 95Y",
        SeriesDescription="HEAD 95YO AXIAL",
        ProtocolName="AGE 97 HEAD",
    )
    (_, out), _ = _published(ds, tmp_path)
    assert (out.StudyDescription, out.SeriesDescription, out.ProtocolName) == (
        "CT HEAD",
        "HEAD AXIAL",
        "HEAD",
    )


def test_uids_under_the_standard_root_are_kept_only_when_registered(tmp_path: Path) -> None:
    reference = Dataset()
    reference.ReferencedSOPClassUID = "1.2.840.10008.5.1.4.1.1.2"
    reference.ReferencedSOPInstanceUID = "1.2.840.10008.99.777.1234567"
    ds = _ct(
        SourceImageSequence=Sequence([reference]), InstanceCreatorUID="1.2.826.0.1.3680043.10.5"
    )
    for _, out in _published(ds, tmp_path):
        item = out.SourceImageSequence[0]
        assert item.ReferencedSOPClassUID == "1.2.840.10008.5.1.4.1.1.2"  # the CT class
        assert item.ReferencedSOPInstanceUID.startswith("2.25.")
        # the same for every study of one device if keyed: it would link donations
        assert "InstanceCreatorUID" not in out


def test_dates_that_are_not_patient_events_are_never_shifted(tmp_path: Path) -> None:
    """A context group's version or a device's calibration date is public or shared:
    shifted, it would give the offset away. A TM holding a date is emptied."""
    region = _code("SCT", "12738006", "Brain", ContextIdentifier="4031")
    region.ContextGroupVersion = "20020904000000"
    region.MappingResource = "DCMR"
    ds = _ct(
        AnatomicRegionSequence=Sequence([region]),
        DateOfLastCalibration="20190315",
        DateOfManufacture="20150101",
        StudyTime="19800101",
        ContentTime="101530",
    )
    for _, out in _published(ds, tmp_path):
        version = out.AnatomicRegionSequence[0].get("ContextGroupVersion")
        assert version in (None, "19000101000000")  # the dummy, never a shifted date
        assert "DateOfLastCalibration" not in out and "DateOfManufacture" not in out
        assert out.StudyTime in ("", None)
        assert out.ContentTime == "101530"  # a real time of day is kept


def test_text_in_a_wrong_character_set_is_read_every_way(tmp_path: Path) -> None:
    """The header says GB18030; a technical attribute holds the name's UTF-8 bytes."""
    ds = _ct(SpecificCharacterSet="GB18030", PatientName="王^小明", ReceiveCoilName="XXXXXXXXX")
    source = BytesIO()
    ds.save_as(source, enforce_file_format=True)
    planted = "王小明".encode()  # 9 bytes, like the placeholder
    ds = dcmread(BytesIO(source.getvalue().replace(b"XXXXXXXXX", planted)))
    outputs = _published(ds, tmp_path)
    for data, out in outputs:
        assert planted not in data
        assert "ReceiveCoilName" not in out


def _deflated() -> tuple[bytes, int]:
    """CT_small, deflated, with pixel data that compresses well (a flat image); and where
    its deflated stream starts."""
    ds = _ct()
    ds.PixelData = bytes(len(ds.PixelData))
    ds.file_meta.TransferSyntaxUID = DeflatedExplicitVRLittleEndian
    buffer = BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    buffer.seek(0)
    read_preamble(buffer, False)
    _read_file_meta_info(buffer)
    return buffer.getvalue(), buffer.tell()


def test_a_deflated_file_whose_pixels_compress_is_published(tmp_path: Path) -> None:
    data, _ = _deflated()
    assert len(data) < len(CT) / 2  # the pixel data compressed: the file is smaller
    path = tmp_path / "deflated.dcm"
    path.write_bytes(data)
    header, reason = read_header(path)
    assert header is not None, reason
    (_, out), _ = _published(dcmread(path), tmp_path / "run")
    assert out.PixelData == bytes(len(out.PixelData))


def test_a_truncated_deflated_file_is_still_skipped(tmp_path: Path) -> None:
    data, start = _deflated()
    # the same dataset cut short and deflated again: its pixel data ends past the end
    inflated = zlib.decompress(data[start:], -15)
    packer = zlib.compressobj(9, zlib.DEFLATED, -15)
    path = tmp_path / "cut.dcm"
    path.write_bytes(data[:start] + packer.compress(inflated[:-5000]) + packer.flush())
    header, reason = read_header(path)
    assert header is None and reason == "a damaged or truncated DICOM file"


def _with_vr(ds: FileDataset, keyword_tag: bytes, vr: bytes) -> bytes:
    buffer = BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    data = buffer.getvalue()
    at = data.index(keyword_tag)
    return data[: at + 4] + vr + data[at + 6 :]


@pytest.mark.parametrize(
    "tag", [b"\x08\x00\x60\x00CS", b"\x08\x00\x08\x00CS"], ids=["Modality", "ImageType"]
)
def test_an_unknown_vr_in_the_risk_attributes_skips_the_file_without_a_traceback(
    tmp_path: Path, tag: bytes
) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "odd.dcm").write_bytes(_with_vr(_ct(ImageType=["ORIGINAL", "PRIMARY"]), tag, b"ZZ"))
    result = run_cli("deid", folder, tmp_path / "out", "--key-file", tmp_path / "k")
    assert "Traceback" not in result.output
    assert "attributes cannot be read" in result.output, result.output


def test_the_first_of_two_copies_of_a_name_is_collected_too(tmp_path: Path) -> None:
    """pydicom keeps the last copy of a tag written twice; the first is read all the same."""
    buffer = BytesIO()
    _ct(PatientName="Visible^Name", ReceiveCoilName="QUORZEL").save_as(
        buffer, enforce_file_format=True
    )
    data = buffer.getvalue()
    at = data.index(b"\x10\x00\x10\x00PN")
    copy = b"\x10\x00\x10\x00PN" + struct.pack("<H", 14) + b"Quorzel^Hidden"
    twice = data[:at] + copy + data[at:]
    assert dcmread(BytesIO(twice)).PatientName == "Visible^Name"
    outputs = _published(twice, tmp_path)
    _assert_absent(outputs, ["QUORZEL"])


def test_the_first_of_two_copies_after_a_large_value_is_collected_too(tmp_path: Path) -> None:
    """A value over 4 KB just before the copy (a private one here) is read in from the
    header's bytes after they are parsed; the copy after it is collected all the same.
    Convolution Kernel keeps letters then digits unless they are an identifying value."""
    ds = _ct(PatientName="Visible^Name", ConvolutionKernel="QZ7731")
    ds.private_block(0x0009, "ACME 1.0", create=True).add_new(0x01, "OB", bytes(6000))
    buffer = BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    data = buffer.getvalue()
    at = data.index(b"\x10\x00\x10\x00PN")
    assert data[at - 6000 - 12 : at - 6000 - 10] == b"\x09\x00"  # the large value just before
    assert data[at - 6000 : at] == bytes(6000)
    copy = b"\x10\x00\x10\x00PN" + struct.pack("<H", 14) + b"QZ7731^Hidden "
    twice = data[:at] + copy + data[at:]
    assert dcmread(BytesIO(twice)).PatientName == "Visible^Name"
    outputs = _published(twice, tmp_path)
    _assert_absent(outputs, ["QZ7731"])


def test_the_first_of_two_copies_inside_a_sequence_item_is_collected_too(tmp_path: Path) -> None:
    item = Dataset()
    item.ReferencedSOPClassUID = "1.2.840.10008.5.1.4.1.1.2"
    item.ReferencedSOPInstanceUID = "1.2.826.0.1.3680043.10.9.1"
    item.PatientName = "Visible^Name"
    buffer = BytesIO()
    _ct(SourceImageSequence=Sequence([item]), ReceiveCoilName="QUORZEL").save_as(
        buffer, enforce_file_format=True
    )
    data = buffer.getvalue()
    # the nested name (the second PN element of the file), copied once more before itself
    at = data.index(b"\x10\x00\x10\x00PN", data.index(b"\x08\x00\x12\x21SQ"))
    copy = b"\x10\x00\x10\x00PN" + struct.pack("<H", 14) + b"Quorzel^Hidden"
    twice = bytearray(data[:at] + copy + data[at:])
    # the item and the sequence grew by the copy: their lengths say so
    for marker in (b"\xfe\xff\x00\xe0", b"\x08\x00\x12\x21SQ\x00\x00"):
        where = bytes(twice).index(marker, data.index(b"\x08\x00\x12\x21SQ"))
        field = where + len(marker)
        (length,) = struct.unpack("<I", twice[field : field + 4])
        if length != 0xFFFFFFFF:
            twice[field : field + 4] = struct.pack("<I", length + len(copy))
    nested = dcmread(BytesIO(bytes(twice))).SourceImageSequence[0]
    assert nested.PatientName == "Visible^Name"
    _assert_absent(_published(bytes(twice), tmp_path), ["QUORZEL"])
