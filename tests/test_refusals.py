"""Bad packages are refused with a message naming the package and the reason,
and leave the archive exactly as it was."""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path

import pytest
from conftest import archive_state, record, run_cli, sample

from archive_builder.demo import study_files


def refuse(archive_dir: Path, package: Path, expected: str) -> str:
    before = archive_state(archive_dir)
    result = run_cli("ingest", archive_dir, package)
    assert result.exit_code == 1, result.output
    lines = [line for line in result.output.splitlines() if line.startswith("refused")]
    assert len(lines) == 1, result.output
    assert str(package) in lines[0]
    assert expected in lines[0], lines[0]
    assert "Traceback" not in result.output
    assert archive_state(archive_dir) == before
    return lines[0]


def test_a_file_that_is_not_a_folder_or_zip(archive_dir: Path, tmp_path: Path) -> None:
    package = tmp_path / "study.tar"
    package.write_bytes(b"not a zip")
    refuse(archive_dir, package, "not a folder or a .zip archive")


def test_a_missing_package(archive_dir: Path, tmp_path: Path) -> None:
    refuse(archive_dir, tmp_path / "nowhere.zip", "no such file or folder")


def test_a_package_without_donation_json(archive_dir: Path, make_package) -> None:
    package = make_package(rec=None)
    (package / "donation.json").unlink(missing_ok=True)
    refuse(archive_dir, package, "no donation.json")


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            {"subject": {"age_years": 200, "sex": "F"}},
            "subject.age_years: must be at most 130",
        ),
        ({"donation_id": "short"}, "donation_id: not an allowed value"),
        ({"schema_version": 2}, "schema_version: not an allowed value"),
        ({"extra": True}, "has fields the contract does not define"),
    ],
)
def test_a_record_that_breaks_the_contract(
    archive_dir: Path, make_package, change, expected
) -> None:
    refuse(archive_dir, make_package(rec=record(**change)), expected)


def test_the_donation_id_is_never_echoed(archive_dir: Path, make_package) -> None:
    line = refuse(
        archive_dir, make_package(rec=record(donation_id="bad id with spaces")), "donation_id"
    )
    assert "bad id with spaces" not in line


def test_a_consent_time_without_offset(archive_dir: Path, make_package) -> None:
    rec = record(
        consent={"given_at": "2026-10-01T09:30:00", "text_version": "v1", "license": "CC0-1.0"}
    )
    refuse(archive_dir, make_package(rec=rec), "has no UTC offset")


def test_invalid_json(archive_dir: Path, make_package) -> None:
    package = make_package()
    (package / "donation.json").write_text("{not json", encoding="utf-8")
    refuse(archive_dir, package, "not valid JSON")


def test_a_package_without_dicom_files(archive_dir: Path, make_package, tmp_path: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("just notes")
    refuse(archive_dir, make_package([text]), "holds no DICOM file (1 other file)")


def test_a_package_of_several_studies(archive_dir: Path, make_package) -> None:
    files = [sample("CT_small.dcm"), sample("MR_small.dcm")]
    refuse(archive_dir, make_package(files), "holds files of 2 studies")


def test_a_package_of_several_patients(archive_dir: Path, make_package, tmp_path: Path) -> None:
    from pydicom import dcmread

    first = sample("CT_small.dcm")
    other = tmp_path / "other-patient.dcm"
    ds = dcmread(first)
    ds.PatientID = "SOMEONE-ELSE-42"
    ds.SOPInstanceUID = ds.SOPInstanceUID + ".1"
    ds.save_as(other)
    refuse(archive_dir, make_package([first, other]), "holds files of 2 patients")


def test_a_package_whose_instances_all_risk_burned_in_text(archive_dir: Path, make_package) -> None:
    refuse(
        archive_dir,
        make_package([sample("US1_J2KR.dcm")]),
        "no instance can be published: modality US",
    )


def test_a_zip_entry_with_dot_dot(archive_dir: Path, tmp_path: Path) -> None:
    package = tmp_path / "evil.zip"
    with zipfile.ZipFile(package, "w") as zf:
        zf.writestr("donation.json", json.dumps(record()))
        zf.writestr("../../escape.dcm", b"x")
    refuse(archive_dir, package, "would be written outside the package")
    assert not (tmp_path / "escape.dcm").exists()


def test_a_zip_entry_with_an_absolute_path(archive_dir: Path, tmp_path: Path) -> None:
    package = tmp_path / "evil.zip"
    with zipfile.ZipFile(package, "w") as zf:
        zf.writestr("donation.json", json.dumps(record()))
        zf.writestr("/tmp/absolute.dcm", b"x")
    refuse(archive_dir, package, "would be written outside the package")


def test_a_zip_holding_a_symlink(archive_dir: Path, tmp_path: Path) -> None:
    package = tmp_path / "link.zip"
    with zipfile.ZipFile(package, "w") as zf:
        zf.writestr("donation.json", json.dumps(record()))
        info = zipfile.ZipInfo("image.dcm")
        info.external_attr = 0o120777 << 16
        zf.writestr(info, "/etc/passwd")
    refuse(archive_dir, package, "is a symlink")


def test_a_folder_with_a_symlink_pointing_outside(
    archive_dir: Path, make_package, tmp_path: Path
) -> None:
    package = make_package()
    secret = tmp_path / "outside.txt"
    secret.write_text("outside")
    (package / "leak.dcm").symlink_to(secret)
    refuse(archive_dir, package, "symlink pointing outside the package")


def test_a_zip_bomb_is_refused_before_extracting(archive_dir: Path, tmp_path: Path) -> None:
    package = tmp_path / "bomb.zip"
    with zipfile.ZipFile(package, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("donation.json", json.dumps(record()))
        zf.writestr("huge.dcm", b"\0" * (64 * 1024 * 1024))
    assert package.stat().st_size < 1024 * 1024
    refuse(archive_dir, package, "expands")


def test_a_zip_with_too_many_entries(archive_dir: Path, tmp_path: Path) -> None:
    config = archive_dir / "archive.toml"
    config.write_text(
        config.read_text().replace("max_package_files = 100000", "max_package_files = 10")
    )
    package = tmp_path / "many.zip"
    with zipfile.ZipFile(package, "w") as zf:
        zf.writestr("donation.json", json.dumps(record()))
        for n in range(20):
            zf.writestr(f"f{n}.dcm", b"x")
    refuse(archive_dir, package, "more than the limit of 10")


def test_a_file_far_larger_than_any_dicom_object(archive_dir: Path, make_package) -> None:
    package = make_package()
    with (package / "huge.dcm").open("wb") as handle:  # sparse: costs no disk
        handle.truncate(5 * 1024**3)
    refuse(archive_dir, package, "larger than any DICOM object should be")


def test_a_verifier_hit_quarantines_the_package(archive_dir: Path, make_package) -> None:
    """A donation record whose free text repeats the patient's name is refused and quarantined."""
    from pydicom import dcmread

    name = str(dcmread(sample("CT_small.dcm")).PatientName).split("^")[0]
    rec = record(
        study={
            "anatomical_region": "CHEST",
            "diagnoses": [{"system": "ICD-10", "code": "J18.9", "display": f"seen by {name}"}],
        }
    )
    refuse(archive_dir, make_package(rec=rec), "quarantined in private/quarantine/")
    quarantine = list((archive_dir / "private" / "quarantine").iterdir())
    assert len(quarantine) == 1
    assert (quarantine[0] / "reason.txt").read_text().startswith("the verifier found")
    assert "portal-donation" not in quarantine[0].name


def test_several_packages_report_one_line_each(
    archive_dir: Path, make_package, tmp_path: Path
) -> None:
    good = make_package()
    bad = tmp_path / "bad.zip"
    bad.write_text("nope")
    result = run_cli("ingest", archive_dir, bad, good)
    assert result.exit_code == 1
    assert result.output.count("refused") == 2  # the line and the summary
    assert "added as don-" in result.output
    assert "1 ok, 1 refused" in result.output


def test_ingest_of_a_folder_that_is_not_an_archive(tmp_path: Path, make_package) -> None:
    result = run_cli("ingest", tmp_path / "no-archive", make_package())
    assert result.exit_code == 2
    assert "is not an archive" in result.output and "archive-builder init" in result.output


def test_mr_folder_of_three_studies(archive_dir: Path, make_package) -> None:
    folder = sample("dicomdirtests/98892003/MR700/4467").parents[1]
    files = [p for p in folder.rglob("*") if p.is_file()]
    assert len(study_files(files[0])) < len(files)
    refuse(archive_dir, make_package(files), "holds files of 3 studies")


def test_unreadable_files_are_skipped_and_reported(
    archive_dir: Path, make_package, tmp_path: Path
) -> None:
    truncated = tmp_path / "truncated.dcm"
    truncated.write_bytes(sample("CT_small.dcm").read_bytes()[:-5000])
    package = make_package(
        [sample("CT_small.dcm"), sample("DICOMDIR"), sample("ExplVR_LitEndNoMeta.dcm"), truncated]
    )
    result = run_cli("ingest", archive_dir, package)
    assert result.exit_code == 0, result.output
    public_id = result.output.split("added as ")[1].split()[0]
    report = json.loads((archive_dir / "datasets" / public_id / "deid-report.json").read_text())
    skipped = report["files_skipped"]
    assert skipped.get("a DICOMDIR (a media index, not an image)") == 1
    assert "not a valid DICOM file (readable only with force=True)" in skipped
    assert skipped.get("a damaged or truncated DICOM file") == 1
    assert sum(skipped.values()) == 3
    assert os.path.basename(str(truncated)) not in json.dumps(report)
