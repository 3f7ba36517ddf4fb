"""A donation record that the DICOM header contradicts: reported, logged privately, record wins."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import record, run_cli, sample
from pydicom import dcmread


def test_header_disagreeing_with_the_record_is_reported_and_the_record_published(
    archive_dir: Path, make_package
) -> None:
    # CT_small.dcm says sex O, age 000Y; the record says F, 52.
    package = make_package(
        [sample("CT_small.dcm")],
        rec=record(donation_id="portal-disagree-1", subject={"age_years": 52, "sex": "F"}),
    )
    result = run_cli("ingest", archive_dir, package)
    assert result.exit_code == 0, result.output
    assert "the DICOM header disagrees with the donation record" in result.output
    assert "sex: the record says F, the DICOM header O" in result.output
    assert "age: the record says 52, the DICOM header 0" in result.output
    public_id = result.output.split("added as ")[1].split()[0]
    log = [
        json.loads(line)
        for line in (archive_dir / "private/logs/ingest.jsonl").read_text().splitlines()
    ]
    assert log[-1]["disagreements"] == [
        "sex: the record says F, the DICOM header O",
        "age: the record says 52, the DICOM header 0",
    ]
    dataset = archive_dir / "datasets" / public_id
    header = dcmread(dataset / "series-001/instance-0001.dcm")
    assert (header.PatientSex, header.PatientAge) == ("F", "052Y")
    published = json.loads((dataset / "donation.json").read_text())
    assert published["subject"] == {"age": "52", "sex": "F"}
    assert "disagree" not in (dataset / "README.md").read_text()


def test_an_agreeing_header_is_not_reported(archive_dir: Path, make_package) -> None:
    package = make_package(
        [sample("CT_small.dcm")],
        rec=record(donation_id="portal-agree-1", subject={"age_years": 1, "sex": "O"}),
    )
    result = run_cli("ingest", archive_dir, package)
    assert result.exit_code == 0, result.output
    assert "disagrees" not in result.output


def test_long_steps_say_what_they_do(archive_dir: Path, make_package) -> None:
    """Off a terminal, one line per step (on a terminal, a bar)."""
    result = run_cli("ingest", archive_dir, make_package())
    assert "  ingest..." in result.output
    result = run_cli("build", archive_dir)
    assert result.exit_code == 0, result.output
    steps = [line.strip() for line in result.output.splitlines() if line.startswith("  ")]
    build_steps = [step for step in steps if step.startswith("build: ")]
    assert build_steps == [
        "build: reading the datasets...",
        "build: publishing the store...",
        "build: catalogs...",
        "build: descriptors...",
        "build: pages and search index...",
        "build: checksums and the swap...",
    ]
    assert "publish..." in steps


def test_the_clone_readme_is_written_for_researchers(archive_dir: Path) -> None:
    from archive_builder.pipeline import superdataset_readme

    text = (archive_dir / "datasets/README.md").read_text()
    repo = Path(__file__).resolve().parents[1] / "datasets/README.md"
    assert text == superdataset_readme() == repo.read_text()
    assert "do not edit" not in text.lower()
    assert "pip install datalad git-annex" in text and "datalad get -n don-<id>" in text
    assert "Citing" in text
