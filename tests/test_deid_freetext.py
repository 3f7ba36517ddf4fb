"""Allow-listed technical text, dates in other spellings, and UIDs that link donations.

Each test plants one fictitious patient's identifiers in a real CT of pydicom's
test data and one more copy of one of them in a place the engine keeps (an
allow-listed technical attribute, a kept code's version, a description), or a
value that gives the date offset away or links two patients' donations; the
file goes through the real ``deid`` command and every published byte is
searched. (From the red-team reproducers of issue 12.)
"""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
from conftest import run_cli
from planted import BIRTH_DATE, UID_ROOT
from planted import assert_unpublished as _assert_unpublished
from planted import ct as _ct
from planted import deid as _deid
from pydicom import dcmread
from pydicom.uid import UID

# -- dates in spellings the identifier collection does not know --------------------------


@pytest.mark.parametrize(
    "text",
    [
        "DOB 03/03/61",  # two-digit year
        "03.03.61",
        "030361",  # DDMMYY
        "610303",  # YYMMDD
        "03-MAR-1961",  # month names
        "3 March 1961",
        "MAR 3 1961",
    ],
)
def test_a_birth_date_in_another_spelling_in_technical_text_is_not_published(
    tmp_path: Path, text: str
) -> None:
    # Reconstruction Method (LO) is on the allow-list: kept unless it repeats a
    # collected value, and date_variants() knows only four-digit years in digits.
    files = _deid(_ct(ReconstructionMethod=text), tmp_path)
    _assert_unpublished(files, text)


def test_a_birth_date_in_the_version_of_a_kept_code_is_not_published(tmp_path: Path) -> None:
    from pydicom.dataset import Dataset
    from pydicom.sequence import Sequence

    code = Dataset()
    code.CodeValue = "T-A0100"
    code.CodingSchemeDesignator = "SRT"
    code.CodeMeaning = "Brain"
    code.CodingSchemeVersion = "03/03/61"
    files = _deid(_ct(AnatomicRegionSequence=Sequence([code])), tmp_path)
    _assert_unpublished(files, "03/03/61")


def test_the_study_date_with_a_month_name_is_not_published(tmp_path: Path) -> None:
    # the true study date beside the shifted one gives the donation's date offset away
    files = _deid(_ct(ReconstructionMethod="15JAN2020"), tmp_path)
    _assert_unpublished(files, "15JAN2020")


def test_a_trials_ethics_approval_dates_are_never_shifted(tmp_path: Path) -> None:
    # One value for every participant of a clinical trial, and public in its registry:
    # shifted, compared with its known value it gives the donation's offset away (the
    # rule README and NOT_PATIENT_DATES state for versions and calibration dates).
    approval = {
        "EthicsCommitteeApprovalEffectivenessStartDate": "20190301",
        "EthicsCommitteeApprovalEffectivenessEndDate": "20240301",
    }
    files = _deid(_ct(**approval), tmp_path)
    published = dcmread(next(p for p in files if p.suffix == ".dcm"))
    for keyword, known in approval.items():
        value = str(published.get(keyword, "") or "")
        assert value in ("", known), f"{keyword} shifted to {value}: the offset is {known} - it"


def test_a_birth_year_in_a_letter_led_descriptor_token_is_not_published(tmp_path: Path) -> None:
    # Clean Descriptors keeps letters-then-digits tokens (T1, B1000): B1961 is the birth
    # year, which with the published age gives the true study year, hence the offset.
    files = _deid(_ct(StudyDescription="CT HEAD B1961"), tmp_path)
    _assert_unpublished(files, "B1961")


def test_an_age_of_90_and_over_in_technical_text_is_not_published(tmp_path: Path) -> None:
    # descriptions lose ages; allow-listed technical text keeps them (ages are not
    # collected, and the allow-list is only checked against collected values)
    files = _deid(_ct(PatientAge="095Y", ReconstructionMethod="AGE 95Y"), tmp_path)
    _assert_unpublished(files, "95Y")


# -- linking donations ---------------------------------------------------------------------


def test_a_site_wide_uid_does_not_link_the_donations_of_different_patients(
    tmp_path: Path,
) -> None:
    # Synchronization Frame of Reference UID is one UID for every device synchronised at
    # a site (PS3.3 C.7.4.2): keyed with the archive's key alone, it becomes one public
    # UID shared by every donation from that hospital (as Instance Creator UID did).
    site_uid = f"{UID_ROOT}.99.1"
    source, out = tmp_path / "in", tmp_path / "out"
    source.mkdir()
    for number in (1, 2):
        ds = _ct(PatientName=f"Patient{number}^Other", PatientID=f"PX{number}0000000")
        ds.StudyInstanceUID = f"{UID_ROOT}.{number}0.1"
        ds.SeriesInstanceUID = f"{UID_ROOT}.{number}0.2"
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = UID(f"{UID_ROOT}.{number}0.3")
        ds.FrameOfReferenceUID = f"{UID_ROOT}.{number}0.4"
        ds.SynchronizationFrameOfReferenceUID = site_uid
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds.save_as(source / f"{number}.dcm", enforce_file_format=True)
    result = run_cli("deid", source, out, "--key-file", tmp_path / "deid.key")
    assert result.exit_code == 0, result.output
    published = [dcmread(p) for p in sorted(out.rglob("*.dcm"))]
    assert len({str(ds.PatientID) for ds in published}) == 2  # two patients
    shared = {str(ds.get("SynchronizationFrameOfReferenceUID", "")) for ds in published}
    assert len(shared) == 2 or shared == {""}, f"one UID links both donations: {shared}"


def test_two_files_of_one_patient_keep_their_site_wide_uid_in_common(tmp_path: Path) -> None:
    # keyed per donor, not removed: one patient's files stay synchronised with each other
    source, out = tmp_path / "in", tmp_path / "out"
    source.mkdir()
    for number in (1, 2):
        ds = _ct(SynchronizationFrameOfReferenceUID=f"{UID_ROOT}.99.1")
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = UID(f"{UID_ROOT}.3.{number}")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds.save_as(source / f"{number}.dcm", enforce_file_format=True)
    result = run_cli("deid", source, out, "--key-file", tmp_path / "deid.key")
    assert result.exit_code == 0, result.output
    published = [dcmread(p) for p in sorted(out.rglob("*.dcm"))]
    assert len(published) == 2
    shared = {str(ds.SynchronizationFrameOfReferenceUID) for ds in published}
    assert len(shared) == 1 and shared != {f"{UID_ROOT}.99.1"}


# -- the rule for allow-listed technical text ----------------------------------------------


def test_technical_text_that_looks_technical_is_kept_as_written(tmp_path: Path) -> None:
    from pydicom.dataset import Dataset
    from pydicom.sequence import Sequence

    code = Dataset()
    code.CodeValue = "12738006"  # a SNOMED CT code: a number, kept as written
    code.CodingSchemeDesignator = "SCT"
    code.CodeMeaning = "Brain"
    code.CodingSchemeVersion = "3.2"
    ds = _ct(
        ReconstructionMethod="OSEM 3D 4i8s",
        ConvolutionKernel="B30f",
        AnatomicRegionSequence=Sequence([code]),
    )
    published = dcmread(next(p for p in _deid(ds, tmp_path) if p.suffix == ".dcm"))
    assert published.ReconstructionMethod == "OSEM 3D 4i8s"
    assert published.ConvolutionKernel == "B30f"
    kept = published.AnatomicRegionSequence[0]
    assert (kept.CodeValue, kept.CodingSchemeVersion) == ("12738006", "3.2")


@pytest.mark.parametrize(
    ("text", "published"),
    [
        ("OSEM 3D 15JAN2019", "OSEM 3D"),  # a date the header does not hold
        ("FBP AGE 97Y", "FBP"),
        ("OSEM 1234567", "OSEM"),  # a long number: an ID of no attribute
        ("OSEM 3D 1958", "OSEM 3D"),  # a year
    ],
)
def test_technical_text_that_does_not_look_technical_is_cleaned(
    tmp_path: Path, text: str, published: str
) -> None:
    ds = dcmread(
        next(p for p in _deid(_ct(ReconstructionMethod=text), tmp_path) if p.suffix == ".dcm")
    )
    assert ds.get("ReconstructionMethod") == published


# -- a date of the header in other spellings, wherever it is searched ----------------------


@pytest.mark.parametrize(
    "text",
    [
        "seen 03/03/61",
        "03.03.61",
        "born 030361",
        "610303",
        "03-MAR-1961",
        "3 March 1961",
        "MAR 3 1961",
        "March 3, 1961",
        "3.3.1961",
        "03MAR61",
    ],
)
def test_a_collected_date_is_found_in_every_spelling(text: str) -> None:
    # the donation record's diagnosis label has no allow-list: only the search stops it
    from archive_builder.deid.identifiers import Identifiers

    identifiers = Identifiers()
    identifiers.add_date(BIRTH_DATE)
    assert identifiers.find(text)


def test_a_short_spelling_of_a_date_is_not_found_inside_a_longer_number() -> None:
    # 610303 as a substring would meet keyed UIDs and file sizes; it is matched as a word
    from archive_builder.deid.identifiers import Identifiers

    identifiers = Identifiers()
    identifiers.add_date(BIRTH_DATE)
    assert not identifiers.find("2.25.1234561030399 size 96103031")


def test_a_date_is_not_found_in_the_standards_own_uids() -> None:
    # 2.4.50 is 2 April 1950 written short, and a piece of JPEG Baseline's UID: a file
    # of a donor born that day must still be published
    from archive_builder.deid.identifiers import Identifiers

    identifiers = Identifiers()
    identifiers.add_date("19500402")
    assert not identifiers.find("1.2.840.10008.1.2.4.50", strict=True)
    assert identifiers.find("born 02.04.50")
