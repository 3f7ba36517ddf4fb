"""Shared fixtures: real archives in temporary folders, real packages from pydicom's test files."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pydicom.data
import pytest
from click.testing import CliRunner, Result
from deid_corpus import CJK_SCRIPTS, SCRIPTS
from hypothesis import strategies as st

from archive_builder.cli import main

DATA = Path(__file__).resolve().parent / "data"


def shared_file(relative: str) -> Path:
    """A copy of a standard or contract file from ``tests/data/`` (each with a SOURCE beside it).

    The copies ship in the repository, so every validator runs on a fresh clone
    with nothing beside it.
    """
    path = DATA / relative
    assert path.is_file(), f"{path} is missing from the repository: see tests/data/*.SOURCE"
    return path


def sample(name: str) -> Path:
    path = pydicom.data.get_testdata_file(name, download=False)
    assert path, f"pydicom test file {name} missing (is pydicom-data installed?)"
    return Path(path)


def record(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "schema_version": 1,
        "donation_id": "portal-donation-0001",
        "consent": {
            "given_at": "2026-10-01T09:30:00+02:00",
            "text_version": "v1",
            "license": "CC-BY-4.0",
        },
        "subject": {"age_years": 52, "sex": "F"},
        "study": {
            "anatomical_region": "HEAD",
            "diagnoses": [
                {"system": "ICD-10", "code": "G43.9", "display": "Migraine, unspecified"}
            ],
        },
    }
    for key, value in overrides.items():
        data[key] = value
    return data


PackageFactory = Callable[..., Path]


@pytest.fixture
def make_package(tmp_path: Path) -> PackageFactory:
    """Write a donation package (folder, or zip with as_zip=True) from pydicom test files."""
    counter = iter(range(1000))

    def make(
        files: list[Path] | tuple[Path, ...] = (),
        *,
        donation_id: str | None = None,
        as_zip: bool = False,
        rec: dict[str, Any] | None = None,
        name: str | None = None,
    ) -> Path:
        n = next(counter)
        folder = tmp_path / "packages" / (name or f"package-{n}")
        folder.mkdir(parents=True)
        data = (
            rec
            if rec is not None
            else record(donation_id=donation_id or f"portal-donation-{n:04d}")
        )
        if data is not None:
            (folder / "donation.json").write_text(json.dumps(data), encoding="utf-8")
        for index, path in enumerate(files or [sample("CT_small.dcm")]):
            shutil.copy(path, folder / f"{index:03d}-{path.name}")
        if not as_zip:
            return folder
        target = folder.with_suffix(".zip")
        with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as zf:
            for path in sorted(folder.rglob("*")):
                zf.write(path, path.relative_to(folder))
        shutil.rmtree(folder)
        return target

    return make


def run_cli(*args: str | Path) -> Result:
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture
def archive_dir(tmp_path: Path) -> Path:
    root = tmp_path / "archive"
    result = run_cli(
        "init",
        root,
        "--name",
        "Test Archive",
        "--publisher",
        "Test Publisher",
        "--contact",
        "archive@example.org",
        "--base-url",
        "https://data.example.org/",
    )
    assert result.exit_code == 0, result.output
    return root


@pytest.fixture(scope="session")
def demo_archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo archive (7 real donations), ingested and built once per test session.

    Treat it as read-only: copy it (or build into your own SiteWriter) to change things.
    """
    root = tmp_path_factory.mktemp("demo") / "demo"
    result = run_cli("demo", root, "--no-serve")
    assert result.exit_code == 0, result.output
    return root


def tree_digest(root: Path) -> str:
    """A fingerprint of every file (name and content) under ``root``, .git included."""
    digest = hashlib.sha256()
    if not root.exists():
        return "absent"
    for path in sorted(root.rglob("*")):
        if path.is_file() and not path.is_symlink():
            digest.update(str(path.relative_to(root)).encode())
            digest.update(path.read_bytes())
        elif path.is_symlink():
            digest.update(str(path.relative_to(root)).encode() + os.readlink(path).encode())
    return digest.hexdigest()


def archive_state(root: Path) -> tuple[str, str, list[str]]:
    """What must not change when a package is refused: datasets/, site/ and staging."""
    staging = root / "private" / "staging"
    return (
        tree_digest(root / "datasets"),
        tree_digest(root / "site"),
        sorted(p.name for p in staging.iterdir()) if staging.exists() else [],
    )


@pytest.fixture(autouse=True)
def _guard_global_git_config() -> Iterator[None]:
    """Fail any test that writes to the user's global git configuration (as datalad-next does)."""
    home_config = Path.home() / ".gitconfig"
    before = home_config.read_bytes() if home_config.exists() else None
    yield
    after = home_config.read_bytes() if home_config.exists() else None
    assert before == after, "a test changed ~/.gitconfig; the archive must never touch it"


def git_log(repo: Path, fmt: str = "%an <%ae>|%cn <%ce>|%s") -> list[str]:
    out = subprocess.run(
        ["git", "-C", str(repo), "log", f"--format={fmt}"],
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.splitlines()


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """One real Chromium for every browser test of the session (Playwright allows one)."""
    from browser_support import CHROMIUM_ARGS, chromium_path
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        yield b
        b.close()


@st.composite
def names_in_scripts(draw: st.DrawFn) -> tuple[str, str, str]:
    """(script, family, given) of a name in one script."""
    script = draw(st.sampled_from(sorted(SCRIPTS)))
    short = 1 if script in CJK_SCRIPTS else 3
    letters = st.sampled_from(SCRIPTS[script])
    family = "".join(draw(st.lists(letters, min_size=short, max_size=6)))
    given = "".join(draw(st.lists(letters, min_size=short + 1, max_size=6)))
    return script, family, given
