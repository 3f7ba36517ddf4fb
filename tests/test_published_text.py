"""Identifiers in other spellings reach none of the published outputs: the DICOM files in
the datasets, ``donation.json``, and the site (pages, catalogs, search index).

One archive, two packages: one whose header hides its patient's identifiers
in the text the site shows (Body Part Examined, Manufacturer, descriptions),
spelled otherwise than in the header; one whose donation record repeats the
patient's name in another spelling. Marked slow: two real ingests and a build.
"""

from __future__ import annotations

import gzip
import io
import re
import unicodedata
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from conftest import record, run_cli, sample
from pydicom import dcmread

pytestmark = pytest.mark.slow

# Spellings planted in the first package (case-insensitive), and tokens (exact case).
NEEDLES = ["mueller", "muller", "jose", "elmwood", "314 159 265", "314159265", "quellmueller"]
TOKENS = [re.compile(r"\b(A12|95Y|97YO)\b")]


def _planted_ct(folder: Path) -> Path:
    ds = dcmread(sample("CT_small.dcm"))
    ds.SpecificCharacterSet = "ISO_IR 192"
    ds.PatientName = "MÜLLER^JOSÉ"
    ds.PatientID = "314159265"
    ds.OtherPatientIDs = ["A12"]
    ds.InstitutionName = "Elmwood Valley Hospital"
    ds.BodyPartExamined = "MULLER"
    ds.Manufacturer = "ELMWOOD"
    ds.SeriesDescription = "T1 95Y 314 159 265 A12"
    ds.StudyDescription = "CT HEAD JOSE 97YO"
    path = folder / "planted.dcm"
    ds.save_as(path, enforce_file_format=True)
    return path


def _readable(path: Path) -> str:
    """What a reader of ``path`` gets: Parquet rows, inflated gzip (the search index), or
    the bytes as text."""
    data = path.read_bytes()
    if path.suffix == ".parquet":
        return str(pq.read_table(path).to_pylist())
    if data[:2] == b"\x1f\x8b":
        data = gzip.GzipFile(fileobj=io.BytesIO(data)).read()
    return data.decode("utf-8", errors="replace")


def _published(root: Path) -> dict[Path, str]:
    texts = {}
    for folder in ("site", "datasets"):
        for path in (root / folder).rglob("*"):
            if ".git" in path.parts or not path.is_file():  # annexed files: their target
                continue
            texts[path] = _readable(path.resolve())
    return texts


def test_other_spellings_reach_no_published_output(
    archive_dir: Path, make_package, tmp_path: Path
) -> None:
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    planted = make_package([_planted_ct(scratch)], donation_id="portal-planted-0001")
    # a record whose diagnosis repeats the patient's name, spelled otherwise (ü as ue)
    leaky = dcmread(sample("CT_small.dcm"))
    leaky.SpecificCharacterSet = "ISO_IR 192"
    leaky.PatientName = "QUELLMÜLLER^Ayşe"
    leaky_path = scratch / "leaky.dcm"
    leaky.save_as(leaky_path, enforce_file_format=True)
    rec = record(donation_id="portal-leaky-0002")
    rec["study"]["diagnoses"] = [
        {"system": "ICD-10", "code": "G43.9", "display": "Quellmueller syndrome"}
    ]
    leaky_package = make_package([leaky_path], rec=rec)

    result = run_cli("ingest", archive_dir, planted, leaky_package)
    assert "added as don-" in result.output, result.output
    refused = [line for line in result.output.splitlines() if line.startswith("refused")]
    assert len(refused) == 1 and "donation.json repeats" in refused[0], result.output
    assert run_cli("build", archive_dir).exit_code == 0

    texts = _published(archive_dir)
    assert any(p.suffix == ".parquet" for p in texts)
    assert any("pagefind" in p.parts for p in texts)
    assert any(p.name == "donation.json" for p in texts)
    leaks = []
    for path, text in texts.items():
        folded = unicodedata.normalize("NFC", text).casefold()
        leaks += [(path, n) for n in NEEDLES if n in folded]
        leaks += [(path, m.group()) for pattern in TOKENS for m in pattern.finditer(text)]
    assert leaks == []
    # what the site shows of the planted study: the safe words only
    series = pq.read_table(archive_dir / "site" / "catalog" / "series.parquet").to_pylist()
    assert [s["SeriesDescription"] for s in series] == ["T1"]
