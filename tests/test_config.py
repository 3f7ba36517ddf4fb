"""archive.toml: every problem is reported together, each with the line to fix."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import run_cli

from archive_builder.config import ConfigError, load_config, render_config


def write(tmp_path: Path, text: str) -> Path:
    (tmp_path / "archive.toml").write_text(text, encoding="utf-8")
    return tmp_path


def test_a_fresh_config_loads(tmp_path: Path) -> None:
    text = render_config("A", "P", "a@b.org", "https://x.org/data", "CC0-1.0")
    config = load_config(write(tmp_path, text))
    assert config.base_url == "https://x.org/data/"
    assert config.license == "CC0-1.0"
    assert config.limits.max_package_files == 100_000


def test_every_problem_is_reported_with_its_line(tmp_path: Path) -> None:
    text = (
        'name = "Archive"\n'
        'contact = "not-an-email"\n'
        'base_url = "ftp://x.org"\n'
        'license = "MIT"\n'
        'licence = "CC0-1.0"\n'
        "[limits]\n"
        "max_file_bytes = -1\n"
    )
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, text))
    message = str(caught.value)
    assert "has 7 problems" in message
    assert "description: missing" in message and "publisher: missing" in message
    assert "archive.toml:2: contact: 'not-an-email' is not an e-mail address" in message
    assert "archive.toml:3: base_url" in message
    assert "archive.toml:4: license: 'MIT' is not one of CC-BY-4.0, CC0-1.0" in message
    assert "archive.toml:5: licence: unknown setting (a typo?)" in message
    assert "archive.toml:7: max_file_bytes: must be a positive whole number" in message


def test_doi_per_donation_needs_a_prefix_and_a_boolean(tmp_path: Path) -> None:
    text = render_config("A", "P", "a@b.org", "https://x.org/data", "CC0-1.0")
    text = text.replace("# doi_per_donation = true", "doi_per_donation = true")
    with pytest.raises(ConfigError, match=r"doi_per_donation: needs doi_prefix"):
        load_config(write(tmp_path, text))
    text = text.replace('# doi_prefix = "10.12345"', 'doi_prefix = "10.12345"')
    assert load_config(write(tmp_path, text)).doi_per_donation is True
    text = text.replace("doi_per_donation = true", 'doi_per_donation = "yes"')
    with pytest.raises(ConfigError, match=r"doi_per_donation: must be true or false"):
        load_config(write(tmp_path, text))


def test_toml_syntax_errors_name_the_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"not valid TOML: .*line 2"):
        load_config(write(tmp_path, 'name = "x"\nbroken = \n'))


def test_the_cli_prints_config_errors_without_traceback(tmp_path: Path) -> None:
    write(tmp_path, 'name = "x"\n')
    result = run_cli("build", tmp_path)
    assert result.exit_code == 2
    assert result.output.startswith("error: ") and "Traceback" not in result.output


def test_a_missing_key_is_a_clear_error(archive_dir: Path) -> None:
    (archive_dir / "private" / "secret.key").unlink()
    result = run_cli("build", archive_dir)
    assert result.exit_code == 2
    assert "secret.key is missing" in result.output


def test_a_key_readable_by_others_is_refused(archive_dir: Path) -> None:
    (archive_dir / "private" / "secret.key").chmod(0o644)
    result = run_cli("build", archive_dir)
    assert result.exit_code == 2
    assert "chmod 600" in result.output
