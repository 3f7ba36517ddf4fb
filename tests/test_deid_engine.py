"""Examples of what the engine decides, on a real CT file."""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta
from pathlib import Path

import pytest
from conftest import sample
from planted import verified_copy
from pydicom import dcmread
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pydicom.tag import Tag

from archive_builder.deid import DeidError, Donor, deidentify_study
from archive_builder.deid.study import collect_identifiers, process_one
from archive_builder.deid.verify import find_leaks, header_bytes
from archive_builder.intake import Instance
from archive_builder.intake.package import read_header

KEY = bytes(range(3, 35))
DONOR = Donor(key=KEY, public_id="don-engineexampl", date_offset_days=-1000, patient_age="060Y")


def _study(tmp_path: Path, **attributes: object) -> Dataset:
    ds = dcmread(sample("CT_small.dcm"))
    for keyword, value in attributes.items():
        setattr(ds, keyword, value)
    source = tmp_path / "in.dcm"
    ds.save_as(source, enforce_file_format=True)
    header, reason = read_header(source)
    assert header is not None, reason
    result = deidentify_study([Instance(source, header)], DONOR, tmp_path / "out")
    assert len(result.outputs) == 1
    return dcmread(tmp_path / "out" / result.outputs[0].relpath)


def _day(text: str) -> date:
    return date(int(text[:4]), int(text[4:6]), int(text[6:8]))


def test_a_shifted_date_never_lands_on_another_date_of_the_original(tmp_path: Path) -> None:
    study = date(2004, 1, 19)
    birth = (study + timedelta(days=DONOR.date_offset_days)).strftime("%Y%m%d")
    out = _study(tmp_path, StudyDate="20040119", ContentDate="20040121", PatientBirthDate=birth)
    assert out.StudyDate not in (birth, "20040119")
    assert (_day(out.ContentDate) - _day(out.StudyDate)).days == 2


def test_technical_text_repeating_a_name_is_removed_not_published(tmp_path: Path) -> None:
    region = Dataset()
    region.CodeValue = "T-A0100"
    region.CodingSchemeDesignator = "SRT"
    region.CodeMeaning = "Brain of Quillsworth"
    out = _study(
        tmp_path,
        PatientName="Quillsworth^Ada",
        ConvolutionKernel="QUILLSWORTH",
        AnatomicRegionSequence=Sequence([region]),
    )
    assert "ConvolutionKernel" not in out
    assert out.AnatomicRegionSequence[0].CodeValue == "T-A0100"
    # the meaning of a code of a known scheme is the standard's, not what was typed
    assert out.AnatomicRegionSequence[0].CodeMeaning == "Brain"
    assert out.Manufacturer == dcmread(sample("CT_small.dcm")).Manufacturer


def test_a_file_marked_as_de_identified_without_the_key_is_de_identified_again(
    tmp_path: Path,
) -> None:
    out = _study(
        tmp_path,
        PatientIdentityRemoved="YES",
        PatientID="don-someoneelses",
        LongitudinalTemporalInformationModified="MODIFIED",
        DeidentificationMethod="archive-builder 0.1.0",
        StudyDate="20040119",
    )
    assert out.PatientID == DONOR.public_id
    moved = date(2004, 1, 19) + timedelta(days=DONOR.date_offset_days)
    assert out.StudyDate == moved.strftime("%Y%m%d")  # moved by the donor's offset


def _with_utf8_name_in_a_code_string(tmp_path: Path) -> tuple[Path, bytes]:
    """CT_small in UTF-8 with its patient's surname planted, in UTF-8, in a CS value."""
    ds = dcmread(sample("CT_small.dcm"))
    ds.SpecificCharacterSet = "ISO_IR 192"
    ds.PatientName = "Müller^Jörg"
    ds.ScanOptions = "XQXQXQXQ"
    source = tmp_path / "in.dcm"
    ds.save_as(source, enforce_file_format=True)
    planted = "MÜLLER ".encode()  # 8 bytes, like the placeholder
    source.write_bytes(source.read_bytes().replace(b"XQXQXQXQ", planted))
    return source, planted.strip()


def test_a_utf8_name_hidden_in_a_code_string_is_removed(tmp_path: Path) -> None:
    """pydicom reads CS values as ISO 8859-1 whatever the character set, so a UTF-8 name
    there looks like mojibake: the engine reads such text as UTF-8 too, and removes it."""
    source, planted = _with_utf8_name_in_a_code_string(tmp_path)
    header, reason = read_header(source)
    assert header is not None, reason
    result = deidentify_study([Instance(source, header)], DONOR, tmp_path / "out")
    output = tmp_path / "out" / result.outputs[0].relpath
    assert planted not in output.read_bytes()
    assert "ScanOptions" not in dcmread(output)


def test_the_verifier_reads_the_header_as_utf8_too(tmp_path: Path) -> None:
    """The last gate does not rely on the engine: the same planted value, put back into a
    de-identified dataset, is found (its bytes read in every plausible character set)."""
    source, planted = _with_utf8_name_in_a_code_string(tmp_path)
    clean, identifiers = verified_copy(source, DONOR, tmp_path / "out")
    clean.add(RawDataElement(Tag("ScanOptions"), "CS", len(planted), planted, 0, False, True))
    assert find_leaks(clean, identifiers, header_bytes(clean)) == [
        "ScanOptions: holds an identifying value of the original"
    ]


def test_a_file_replaced_after_its_header_was_read_is_refused_and_nothing_written(
    tmp_path: Path,
) -> None:
    """Pixel data is copied from the file when the output is saved; a file replaced in
    between (its header grew) must not have arbitrary bytes copied into the output."""
    source = tmp_path / "in.dcm"
    original = dcmread(sample("CT_small.dcm"))
    original.save_as(source, enforce_file_format=True)
    header, reason = read_header(source)
    assert header is not None, reason
    identifiers = collect_identifiers([Instance(source, header)], DONOR)
    original.StudyDescription = "Chest CT for Quillsworth, " + "much longer text " * 20
    original.save_as(source, enforce_file_format=True)
    target = tmp_path / "out" / "instance.dcm"
    with pytest.raises(DeidError, match="changed"):
        process_one(source, target, DONOR, identifiers, Counter(), header)
    assert not target.exists()
