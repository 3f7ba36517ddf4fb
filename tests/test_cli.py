"""Every command has help and is documented in the README."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import run_cli

from archive_builder.cli import main

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()
COMMANDS = sorted(main.commands)


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help(command: str) -> None:
    result = run_cli(command, "--help")
    assert result.exit_code == 0
    assert result.output.startswith(f"Usage: main {command}") or f" {command} " in result.output
    assert len(result.output.splitlines()) > 3


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_is_in_the_readme(command: str) -> None:
    assert re.search(rf"archive-builder {command}\b", README), f"README does not show `{command}`"


def test_quick_start_has_exactly_two_commands() -> None:
    section = README.split("## Quick start", 1)[1]
    block = section.split("```", 2)[1]
    commands = [line for line in block.splitlines()[1:] if line.strip()]
    assert len(commands) == 2
    assert "archive-builder demo" in commands[0] and "pytest" in commands[1]


def test_ci_runs_the_readme_test_command_verbatim() -> None:
    section = README.split("## Quick start", 1)[1]
    test_command = [line for line in section.split("```", 2)[1].splitlines() if line.strip()][1]
    ci = (Path(__file__).resolve().parents[1] / ".ci" / "run").read_text()
    assert test_command in ci


def test_the_command_line_imports_no_heavy_stage_until_a_command_runs() -> None:
    """`archive-builder --help` and every command start without importing pyarrow,
    DataLad, onnxruntime or OpenCV (they cost most of a second of start-up); `deid`
    needs none of them but the text detector, which loads only for a frame to screen."""
    code = (
        "import sys, archive_builder.cli, archive_builder.deid.folder; "
        "print(' '.join(sorted({m.split('.')[0] for m in sys.modules})))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = set(out.stdout.split())
    assert "archive_builder" in loaded
    assert not loaded & {"pyarrow", "datalad", "onnxruntime", "cv2", "jinja2", "rdflib"}
    code = "import sys, archive_builder.cli; print(' '.join(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    modules = set(out.stdout.split())
    assert not {m.split(".")[0] for m in modules} & {"pydicom", "numpy"}
    # the archive and its configuration reader load when a command opens an archive
    assert not modules & {"archive_builder.archive", "archive_builder.config", "secrets"}


def test_the_licences_offered_are_those_the_donation_contract_allows() -> None:
    """`init`, the configuration and the descriptors share one table; the donation
    package's schema (a contract with the portal) must name the same licences."""
    from importlib import resources

    from archive_builder.licenses import LICENSES

    schema = json.loads(
        resources.files("archive_builder.intake").joinpath("donation.schema.json").read_text()
    )
    assert schema["properties"]["consent"]["properties"]["license"]["enum"] == list(LICENSES)
