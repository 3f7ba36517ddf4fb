"""The maintainer's environment changes nothing the archive's datasets record.

DataLad runs inside the ingest process (``store/inprocess.py``) and git reads
configuration from more places than the global file: a system file (its path
in ``GIT_CONFIG_SYSTEM``, else /etc/gitconfig), items given in the environment
(``GIT_CONFIG_COUNT``), a template directory whose hooks are copied into every
new repository (``GIT_TEMPLATE_DIR``). A hook run at each commit can sign the
archive's commits with the maintainer's name: none of these may reach them.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from conftest import run_cli

PERSON = "Dr Maintainer Person <maintainer@hospital.example>"


def hooks(folder: Path) -> Path:
    """A folder of git hooks whose commit-msg hook signs each message as the maintainer."""
    folder.mkdir(parents=True)
    hook = folder / "commit-msg"
    hook.write_text(f'#!/bin/sh\necho "Signed-off-by: {PERSON}" >> "$1"\n', encoding="utf-8")
    hook.chmod(0o755)
    return folder


def history(repo: Path) -> str:
    """Every commit of every branch (git-annex's too): who, when and the message."""
    return subprocess.run(
        ["git", "-C", str(repo), "log", "--all", "--format=%an <%ae>|%cn <%ce>|%aI|%cI|%B"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout


@pytest.mark.parametrize("where", ["system-file", "environment-items", "template"])
def test_git_configuration_outside_the_global_file_changes_nothing_the_archive_writes(
    archive_dir: Path, make_package, monkeypatch, tmp_path: Path, where: str
) -> None:
    signing = hooks(tmp_path / "maintainer-hooks")
    if where == "system-file":
        system = tmp_path / "gitconfig-system"
        system.write_text(f"[core]\n\thooksPath = {signing}\n", encoding="utf-8")
        monkeypatch.setenv("GIT_CONFIG_SYSTEM", str(system))
    elif where == "environment-items":
        monkeypatch.setenv("GIT_CONFIG_COUNT", "1")
        monkeypatch.setenv("GIT_CONFIG_KEY_0", "core.hooksPath")
        monkeypatch.setenv("GIT_CONFIG_VALUE_0", str(signing))
    else:
        signing.rename(signing.with_name("hooks"))
        monkeypatch.setenv("GIT_TEMPLATE_DIR", str(tmp_path))
    result = run_cli("ingest", archive_dir, make_package())
    assert result.exit_code == 0 and "added as " in result.output, result.output
    public_id = result.output.split("added as ")[1].split()[0]
    for repo in (archive_dir / "datasets", archive_dir / "datasets" / public_id):
        log = history(repo)
        assert "Maintainer" not in log and "hospital" not in log, log


def test_datalad_imported_before_in_the_maintainers_environment_changes_nothing(
    archive_dir: Path, make_package, monkeypatch, tmp_path: Path
) -> None:
    """DataLad reads its configuration (``DATALAD_*`` and git's) when first imported and
    keeps it: imported by another library before an ingest, in the maintainer's
    environment, its settings must not reach the datasets (here: the annex backend,
    which names every file's key in the published history)."""
    import datalad

    monkeypatch.setenv("DATALAD_REPO_BACKEND", "SHA1E")
    datalad.cfg.reload(force=True)  # as a first import in this environment reads it
    try:
        result = run_cli("ingest", archive_dir, make_package())
    finally:
        monkeypatch.undo()
        datalad.cfg.reload(force=True)
    assert result.exit_code == 0 and "added as " in result.output, result.output
    public_id = result.output.split("added as ")[1].split()[0]
    written = subprocess.run(
        ["git", "-C", str(archive_dir / "datasets" / public_id), "log", "--all", "-p", "--raw"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "SHA256E" in written and "SHA1E" not in written
