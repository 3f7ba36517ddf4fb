"""`archive-builder offers`: donation-rate counts, published with small counts withheld."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
from conftest import run_cli, tree_digest
from jsonschema import Draft202012Validator, FormatChecker


def _line(date: str, modality: str, region: str, offered: int, accepted: int, declined: int) -> str:
    return json.dumps(
        {
            "date": date,
            "modality": modality,
            "anatomical_region": region,
            "offered": offered,
            "accepted": accepted,
            "declined": declined,
        }
    )


def _write(path: Path, *lines: str) -> Path:
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def _published(archive: Path) -> list[dict[str, Any]]:
    result = run_cli("build", archive, "--quiet")
    assert result.exit_code == 0, result.output
    return pq.read_table(archive / "site/catalog/offers.parquet").to_pylist()


def test_ledger_lines_follow_the_portal_contract(tmp_path: Path) -> None:
    from conftest import shared_file

    schema = json.loads(shared_file("contracts/offers.schema.json").read_text())
    validator = Draft202012Validator(schema, format_checker=FormatChecker())
    bundled = Path(__file__).parents[1] / "archive_builder/catalog/offers.schema.json"
    assert json.loads(bundled.read_text()) == schema, "the bundled copy drifted from the contract"
    assert validator.is_valid(json.loads(_line("2026-11-02", "CT", "CHEST", 40, 12, 25)))


def test_counts_below_five_are_never_published(archive_dir: Path, tmp_path: Path) -> None:
    ledger = _write(
        tmp_path / "offers.jsonl",
        _line("2026-11-02", "CT", "CHEST", 40, 12, 25),
        _line("2026-11-02", "MR", "HEAD", 30, 3, 27),
        _line("2026-11-03", "CT", "CHEST", 4, 0, 4),
        "",
    )
    result = run_cli("offers", archive_dir, ledger)
    assert result.exit_code == 0, result.output
    assert "3 added, 0 replaced" in result.output
    rows = _published(archive_dir)
    by_key = {(str(r["date"]), r["modality"]): r for r in rows}
    assert by_key[("2026-11-02", "CT")] == {
        **by_key[("2026-11-02", "CT")],
        "offered": 40,
        "accepted": 12,
        "declined": 25,
        "suppressed": False,
    }
    for key in (("2026-11-02", "MR"), ("2026-11-03", "CT")):
        row = by_key[key]
        # every count of the row is withheld: none can be worked out from the others
        assert row["suppressed"] is True
        assert row["offered"] is None and row["accepted"] is None and row["declined"] is None
    # the exact counts stay in private/, which never reaches the site
    site_bytes = b"".join(p.read_bytes() for p in (archive_dir / "site").rglob("*") if p.is_file())
    assert b'"accepted": 3' not in site_bytes
    assert not list((archive_dir / "site").rglob("*.jsonl"))


def test_a_resent_line_replaces_the_earlier_one(archive_dir: Path, tmp_path: Path) -> None:
    first = _write(tmp_path / "a.jsonl", _line("2026-11-02", "CT", "CHEST", 40, 12, 25))
    assert run_cli("offers", archive_dir, first).exit_code == 0
    again = _write(
        tmp_path / "b.jsonl",
        _line("2026-11-02", "CT", "CHEST", 41, 13, 25),
        _line("2026-11-02", "CT", "ABDOMEN", 10, 5, 5),
    )
    result = run_cli("offers", archive_dir, again)
    assert result.exit_code == 0, result.output
    assert "1 added, 1 replaced" in result.output
    rows = _published(archive_dir)
    chest = [r for r in rows if r["anatomical_region"] == "CHEST"]
    assert len(rows) == 2 and len(chest) == 1
    assert (chest[0]["offered"], chest[0]["accepted"]) == (41, 13)


def test_a_bad_line_is_named_and_changes_nothing(archive_dir: Path, tmp_path: Path) -> None:
    good = _write(tmp_path / "good.jsonl", _line("2026-11-02", "CT", "CHEST", 40, 12, 25))
    assert run_cli("offers", archive_dir, good).exit_code == 0
    before = tree_digest(archive_dir)
    bad = _write(
        tmp_path / "bad.jsonl",
        _line("2026-11-03", "CT", "CHEST", 50, 20, 25),
        _line("2026-11-03", "MR", "HEAD", -1, 0, 0),
        '{"date": "2026-11-04", "modality": "CT"',
        _line("2026-02-30", "CT", "CHEST", 9, 5, 4),
    )
    result = run_cli("offers", archive_dir, bad)
    assert result.exit_code == 2
    message = result.output
    assert "Traceback" not in message
    assert f"{bad}:2: offered" in message
    assert f"{bad}:3: not JSON" in message
    assert f"{bad}:4: date" in message
    assert "nothing was imported" in message and "run `archive-builder offers` again" in message
    assert tree_digest(archive_dir) == before
