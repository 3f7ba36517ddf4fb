"""One fictitious patient planted in a real CT, and a search of what `deid` publishes.

Shared by the tests of identifiers that must not survive (test_deid_collect.py,
test_deid_freetext.py): each plants one more copy of an identifier somewhere the
engine keeps and searches every output byte for it.
"""

from __future__ import annotations

import warnings
from io import BytesIO
from pathlib import Path

from conftest import run_cli, sample
from pydicom import dcmread
from pydicom.dataset import FileDataset
from pydicom.uid import UID

from archive_builder.deid import Donor, Identifiers, deidentify_study
from archive_builder.deid.study import collect_identifiers
from archive_builder.deid.verify import find_leaks, header_bytes
from archive_builder.intake import Instance
from archive_builder.intake.package import read_header

FAMILY, GIVEN = "Quibbleton", "Anna"
PATIENT_ID = "PX55512345"
BIRTH_DATE = "19610303"  # 3 March 1961
STUDY_DATE = "20200115"
UID_ROOT = "1.2.826.0.1.3680043.10.777"  # the hospital's registered UID root


def ct(**attributes: object) -> FileDataset:
    """CT_small as one instance of the fictitious patient's study, with ``attributes``."""
    ds = dcmread(BytesIO(sample("CT_small.dcm").read_bytes()))
    ds.PatientName = f"{FAMILY}^{GIVEN}"
    ds.PatientID = PATIENT_ID
    ds.PatientBirthDate = BIRTH_DATE
    ds.StudyDate = STUDY_DATE
    ds.InstitutionName = "Zorbington General Hospital"
    ds.StudyInstanceUID = f"{UID_ROOT}.1"
    ds.SeriesInstanceUID = f"{UID_ROOT}.2"
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = UID(f"{UID_ROOT}.3")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for keyword, value in attributes.items():
            setattr(ds, keyword, value)
    return ds


def verified_copy(source: Path, donor: Donor, out: Path) -> tuple[FileDataset, Identifiers]:
    """``source`` (one file) de-identified for ``donor`` into ``out``, passed by the
    verifier, and the identifiers collected from it: a value planted back into the copy
    is what the verifier alone must find."""
    header, reason = read_header(source)
    assert header is not None, reason
    instance = Instance(source, header)
    identifiers = collect_identifiers([instance], donor)
    result = deidentify_study([instance], donor, out)
    clean = dcmread(out / result.outputs[0].relpath)
    assert find_leaks(clean, identifiers, header_bytes(clean)) == []
    return clean, identifiers


def deid(ds: FileDataset, tmp_path: Path) -> list[Path]:
    """Run ``archive-builder deid`` on a folder holding ``ds``; the files it writes."""
    source, out = tmp_path / "in", tmp_path / "out"
    source.mkdir()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds.save_as(source / "image.dcm", enforce_file_format=True)
    result = run_cli("deid", source, out, "--key-file", tmp_path / "deid.key")
    assert result.exit_code == 0, result.output
    assert "ok" in result.output, result.output  # published, not excluded or refused
    files = [p for p in out.rglob("*") if p.is_file()]
    assert any(p.suffix == ".dcm" for p in files)
    return files


def found(data: bytes, needle: str | bytes) -> bool:
    if isinstance(needle, bytes):
        return needle in data
    low = data.lower()
    encodings = ("utf-8", "latin-1", "utf-16-le", "utf-16-be")
    return any(needle.lower().encode(e, "ignore") in low for e in encodings)


def assert_unpublished(files: list[Path], needle: str | bytes) -> None:
    leaks = [p.name for p in files if found(p.read_bytes(), needle)]
    assert not leaks, f"{needle!r} published in {leaks}"
