"""The gate every text file of an output passes before it is written."""

from __future__ import annotations

from pathlib import Path

import pytest

from archive_builder.deid import DeidError, Identifiers, LeakError
from archive_builder.deid.gate import Gate


def _gate() -> Gate:
    identifiers = Identifiers()
    identifiers.add_name("Quibbleton^Anna")
    identifiers.add_value("PX55512345")
    return Gate(identifiers)


def test_the_gate_refuses_a_text_that_repeats_an_identifier_and_writes_nothing(
    tmp_path: Path,
) -> None:
    gate = _gate()
    with pytest.raises(LeakError, match=r"donation\.json repeats an identifying value") as caught:
        gate.write_json(tmp_path / "donation.json", {"diagnoses": ["seen by Dr QUIBBLETON"]})
    assert "Quibbleton" not in str(caught.value) and "QUIBBLETON" not in str(caught.value)
    assert not (tmp_path / "donation.json").exists()
    gate.write_json(tmp_path / "donation.json", {"diagnoses": ["Migraine"]})
    assert (tmp_path / "donation.json").read_text() == '{\n "diagnoses": [\n  "Migraine"\n ]\n}\n'


def test_a_file_that_did_not_pass_the_gate_or_the_verifier_refuses_the_folder(
    tmp_path: Path,
) -> None:
    gate = _gate()
    (tmp_path / "series-001").mkdir()
    (tmp_path / "series-001" / "instance-0001.dcm").write_bytes(b"verified DICOM")
    (tmp_path / ".gitattributes").write_text("* annex.largefiles=nothing\n")
    gate.write_text(tmp_path / "README.md", "# Donation\n")
    gate.check_folder(tmp_path, ["series-001/instance-0001.dcm"])
    (tmp_path / "notes.txt").write_text("written by a new feature that forgot the gate\n")
    with pytest.raises(DeidError, match=r"notes\.txt was written without passing the verifier"):
        gate.check_folder(tmp_path, ["series-001/instance-0001.dcm"])
