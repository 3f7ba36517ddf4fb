"""`archive-builder deid IN_DIR OUT_DIR`: the anonymizer on its own, on real files."""

from __future__ import annotations

import json
import shutil
import struct
from datetime import date
from pathlib import Path

import pytest
from conftest import run_cli, sample
from pydicom import dcmread
from pydicom.dataelem import RawDataElement
from pydicom.dataset import FileDataset
from pydicom.tag import Tag

from archive_builder.deid.batches import Batch, run_batch
from archive_builder.deid.folder import group, survey

CT = sample("CT_small.dcm")


def _ct(
    folder: Path,
    name: str,
    *,
    patient: str = "PAT-0001",
    study: str = "1.2.826.0.1.3680043.10.555.1",
    study_date: str = "20040119",
    sop: str = "1.2.826.0.1.3680043.10.555.1.1",
    **attributes: object,
) -> Path:
    ds = dcmread(CT)
    ds.PatientID = patient
    ds.PatientName = f"Quibbleton^{patient}"
    ds.StudyInstanceUID = study
    ds.StudyDate = study_date
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = sop
    for keyword, value in attributes.items():
        setattr(ds, keyword, value)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    ds.save_as(path, enforce_file_format=True)
    return path


def _outputs(out: Path) -> dict[str, bytes]:
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*.dcm"))}


def test_deid_writes_generated_names_a_report_per_study_and_a_private_key(tmp_path: Path) -> None:
    _ct(tmp_path / "in" / "Quibbleton PAT-0001", "Quibbleton.dcm")
    key = tmp_path / "secret" / "deid.key"
    result = run_cli("deid", tmp_path / "in", tmp_path / "out", "--key-file", key)
    assert result.exit_code == 0, result.output
    assert key.stat().st_mode & 0o777 == 0o600
    files = sorted(str(p.relative_to(tmp_path / "out")) for p in (tmp_path / "out").rglob("*"))
    pseudonym = files[0]
    assert pseudonym.startswith("pt-") and "Quibbleton" not in " ".join(files)
    assert files == [
        pseudonym,
        f"{pseudonym}/study-1",
        f"{pseudonym}/study-1/deid-report.json",
        f"{pseudonym}/study-1/series-001",
        f"{pseudonym}/study-1/series-001/instance-0001.dcm",
    ]
    assert f"ok        {pseudonym}/study-1: 1 file" in result.output
    out = dcmread(tmp_path / "out" / files[-1])
    assert out.PatientID == out.PatientName == pseudonym
    report = (tmp_path / "out" / f"{pseudonym}/study-1/deid-report.json").read_text()
    assert json.loads(report)["instances"]["published"] == 1
    for original in ("Quibbleton", "PAT-0001", "1.2.826.0.1.3680043.10.555", "20040119"):
        assert original not in report


def test_a_patients_studies_share_pseudonym_and_date_offset(tmp_path: Path) -> None:
    _ct(tmp_path / "in", "a.dcm", study_date="20040119")
    _ct(
        tmp_path / "in",
        "b.dcm",
        study="1.2.826.0.1.3680043.10.555.2",
        sop="1.2.826.0.1.3680043.10.555.2.1",
        study_date="20040218",
    )
    _ct(
        tmp_path / "in",
        "c.dcm",
        patient="PAT-0002",
        study="1.2.826.0.1.3680043.10.555.3",
        sop="1.2.826.0.1.3680043.10.555.3.1",
    )
    key = tmp_path / "key"
    assert run_cli("deid", tmp_path / "in", tmp_path / "out", "--key-file", key).exit_code == 0
    out = tmp_path / "out"
    patients = sorted(p.name for p in out.iterdir())
    assert len(patients) == 2
    studies = {p: sorted(s.name for s in (out / p).iterdir()) for p in patients}
    assert sorted(studies.values()) == [["study-1"], ["study-1", "study-2"]]
    twice = next(p for p in patients if len(studies[p]) == 2)
    first, second = (
        dcmread(out / twice / s / "series-001" / "instance-0001.dcm") for s in studies[twice]
    )

    def day(text: str) -> date:
        return date(int(text[:4]), int(text[4:6]), int(text[6:8]))

    assert (day(second.StudyDate) - day(first.StudyDate)).days == 30
    assert first.StudyDate != "20040119"


def test_age_comes_from_the_header_and_90_and_over_is_090y(tmp_path: Path) -> None:
    _ct(tmp_path / "in", "old.dcm", PatientAge="095Y")
    _ct(
        tmp_path / "in",
        "young.dcm",
        patient="PAT-0002",
        study="1.2.826.0.1.3680043.10.555.2",
        sop="1.2.826.0.1.3680043.10.555.2.1",
        PatientBirthDate="19700301",
        PatientAge=None,
    )
    result = run_cli("deid", tmp_path / "in", tmp_path / "out", "--key-file", tmp_path / "k")
    assert result.exit_code == 0, result.output
    ages = sorted(str(dcmread(p).PatientAge) for p in (tmp_path / "out").rglob("*.dcm"))
    assert ages == ["033Y", "090Y"]


def test_a_leak_refuses_that_study_only_and_writes_nothing_of_it(tmp_path: Path) -> None:
    # a Patient ID that is also the study time: the engine keeps times, the verifier objects
    _ct(tmp_path / "in", "leaky.dcm", patient="101530", StudyTime="101530")
    _ct(
        tmp_path / "in",
        "fine.dcm",
        patient="PAT-0002",
        study="1.2.826.0.1.3680043.10.555.2",
        sop="1.2.826.0.1.3680043.10.555.2.1",
    )
    result = run_cli("deid", tmp_path / "in", tmp_path / "out", "--key-file", tmp_path / "k")
    assert result.exit_code == 1
    assert "refused" in result.output and "StudyTime: holds an identifying value" in result.output
    assert "101530" not in result.output
    written = list((tmp_path / "out").rglob("*.dcm"))
    assert len(written) == 1 and dcmread(written[0]).StudyTime != "101530"
    assert [p.name for p in (tmp_path / "out").iterdir()] == [written[0].parents[2].name]


def _force_only(path: Path) -> None:
    ds = dcmread(CT)
    bare = FileDataset(str(path), ds, preamble=None, file_meta=None)
    bare.save_as(path, implicit_vr=True, little_endian=True, enforce_file_format=False)


def test_bad_input_is_skipped_or_excluded_with_a_reason_never_a_traceback(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "in"
    good = _ct(folder, "good.dcm")
    (folder / "notes.txt").write_text("Quibbleton's scan, see PAT-0001\n")
    (folder / "truncated.dcm").write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    _force_only(folder / "force-only.dcm")
    shutil.copy(sample("DICOMDIR"), folder / "DICOMDIR")
    _ct(
        folder,
        "unknown-class.dcm",
        patient="PAT-0002",
        study="1.2.826.0.1.3680043.10.555.9",
        sop="1.2.826.0.1.3680043.10.555.9.1",
        SOPClassUID="1.2.826.0.1.3680043.10.555.77",
    )
    result = run_cli("deid", folder, tmp_path / "out", "--key-file", tmp_path / "k")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert sum(line.startswith("ok ") for line in lines) == 1
    excluded = [line for line in lines if line.startswith("excluded")]
    assert len(excluded) == 1 and "is not an image type the archive publishes" in excluded[0]
    skipped = next(line for line in lines if line.startswith("skipped"))
    for reason in (
        "not a DICOM file",
        "a damaged or truncated DICOM file",
        "readable only with force=True",
        "a DICOMDIR",
    ):
        assert reason in skipped
    assert "Traceback" not in result.output
    assert len(list((tmp_path / "out").rglob("*.dcm"))) == 1
    assert not list((tmp_path / "out").rglob("*.partial"))


def _with_transfer_syntax(path: Path, value: bytes) -> None:
    """Write ``value`` as the file's Transfer Syntax UID, as a writer that does not check
    it would (pydicom refuses to write a multi-valued one)."""
    data = path.read_bytes()
    old = b"1.2.840.10008.1.2.1\x00"
    start = data.index(b"\x02\x00\x10\x00UI")
    assert data[start + 8 : start + 8 + len(old)] == old
    data = data[: start + 6] + struct.pack("<H", len(value)) + value + data[start + 8 + len(old) :]
    group = data.index(b"\x02\x00\x00\x00UL")
    length = struct.unpack("<L", data[group + 8 : group + 12])[0] + len(value) - len(old)
    path.write_bytes(data[: group + 8] + struct.pack("<L", length) + data[group + 12 :])


@pytest.mark.parametrize(
    "syntax",
    [
        b"1.2.826.0.1.3680043.10.555.42\x00",  # a vendor's private transfer syntax
        b"1.2.840.10008.1.2.1\\1.2.840.10008.1.2\x00",  # two values
    ],
)
def test_a_file_meta_naming_no_known_transfer_syntax_is_skipped_not_a_traceback(
    tmp_path: Path, syntax: bytes
) -> None:
    # pydicom reads the dataset as explicit VR little endian; asking the value whether
    # it is a deflated syntax raises
    folder = tmp_path / "in"
    _ct(folder, "good.dcm")
    odd = _ct(
        folder,
        "odd-syntax.dcm",
        patient="PAT-0002",
        study="1.2.826.0.1.3680043.10.555.9",
        sop="1.2.826.0.1.3680043.10.555.9.1",
    )
    _with_transfer_syntax(odd, syntax)
    result = run_cli("deid", folder, tmp_path / "out", "--key-file", tmp_path / "k")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert sum(line.startswith("ok ") for line in lines) == 1
    skipped = next(line for line in lines if line.startswith("skipped"))
    assert "names no known transfer syntax" in skipped
    assert len(list((tmp_path / "out").rglob("*.dcm"))) == 1


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        ("missing-in", "no such folder"),
        ("out-not-empty", "not empty; give a new or empty folder"),
        ("key-in-out", "must not be inside the output folder"),
        ("bad-key", "is not a key file"),
        ("out-in-in", "must be outside the input folder"),
        ("no-dicom", "holds no DICOM file"),
    ],
)
def test_unusable_folders_and_keys_get_one_clear_message(
    tmp_path: Path, setup: str, message: str
) -> None:
    folder, out, key = tmp_path / "in", tmp_path / "out", tmp_path / "k"
    _ct(folder, "a.dcm")
    if setup == "missing-in":
        folder = tmp_path / "nowhere"
    elif setup == "out-not-empty":
        out.mkdir()
        (out / "old.txt").write_text("x")
    elif setup == "key-in-out":
        key = out / "k"
    elif setup == "bad-key":
        key.write_text("not a key\n")
    elif setup == "out-in-in":
        out = folder / "out"
    elif setup == "no-dicom":
        folder = tmp_path / "text"
        folder.mkdir()
        (folder / "a.txt").write_text("hello")
    result = run_cli("deid", folder, out, "--key-file", key)
    assert result.exit_code == 2
    assert message in result.output and "Traceback" not in result.output
    if setup == "key-in-out":
        assert not key.exists()
    assert not list(out.rglob("*.dcm"))


def test_jobs_do_not_change_the_output_and_a_second_pass_changes_nothing(tmp_path: Path) -> None:
    for n in range(3):
        _ct(
            tmp_path / "in",
            f"{n}.dcm",
            sop=f"1.2.826.0.1.3680043.10.555.1.{n + 1}",
            InstanceNumber=n + 1,
        )
    key = tmp_path / "k"
    for name, jobs in (("one", "1"), ("two", "2")):
        result = run_cli("deid", tmp_path / "in", tmp_path / name, "--key-file", key, "-j", jobs)
        assert result.exit_code == 0, result.output
    once = _outputs(tmp_path / "one")
    assert len(once) == 3 and once == _outputs(tmp_path / "two")
    again = run_cli("deid", tmp_path / "one", tmp_path / "again", "--key-file", key)
    assert again.exit_code == 0
    assert _outputs(tmp_path / "again") == once


def test_a_file_rewritten_after_the_survey_is_not_de_identified(tmp_path: Path) -> None:
    """Identifiers are collected in a first pass over the folder; a file rewritten before
    the second pass may hold values that were never collected, so its study is refused."""
    source = _ct(tmp_path / "in", "a.dcm")
    key = bytes(range(32))
    instances, found, stamps, _skipped = survey(tmp_path / "in", key)
    [(donor, _folder, _sources, identifiers)] = group(key, instances, found)
    _ct(tmp_path / "in", "a.dcm", StudyDescription="Quibbleton family, second visit")
    staging = tmp_path / "staging"
    item = (source, "series-001/instance-0001.dcm", None, stamps[source])
    result = run_batch(Batch([item], staging, donor, identifiers))
    assert result.error is not None and "changed" in result.error
    assert result.outputs == [] and not list(staging.rglob("*.dcm"))


def test_a_sequence_stored_as_un_that_cannot_be_read_refuses_its_study_with_a_reason(
    tmp_path: Path,
) -> None:
    """Its identifying values cannot be collected, so nothing of its study is published (a
    value of it may be in its sibling files: ingest refuses the package the same way); the
    run goes on and says why (it used to end in a traceback)."""
    payload = bytes.fromhex(
        "10002000ffffffff08002011ffffffff20000d00ffffffff5a5d48737a2436272f3a67796469342257"
    )
    _ct(tmp_path / "in", "good.dcm")
    bad = dcmread(_ct(tmp_path / "in", "bad.dcm", sop="1.2.826.0.1.3680043.10.555.1.2"))
    value = payload + b"\0"
    bad[0x00081120] = RawDataElement(Tag(0x00081120), "UN", len(value), value, 0, False, True)
    bad.save_as(tmp_path / "in" / "bad.dcm", enforce_file_format=True)
    key = tmp_path / "deid.key"
    result = run_cli("deid", tmp_path / "in", tmp_path / "out", "--key-file", key, "--jobs", 2)
    assert result.exit_code == 1, result.output
    assert "refused" in result.output and "stored without its VR cannot be read" in result.output
    assert "Traceback" not in result.output
    assert list((tmp_path / "out").rglob("*.dcm")) == []
