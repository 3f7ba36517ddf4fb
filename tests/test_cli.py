"""Every command has help and is documented in the README."""

from __future__ import annotations

import re
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
