"""`archive-builder offers`: donation-rate counts, published with small counts withheld."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
from conftest import run_cli, tree_digest
from jsonschema import Draft202012Validator, FormatChecker


def _line(
    date: str, modality: str, region: str, offered: int, accepted: int, declined: int, **v2: object
) -> str:
    return json.dumps(
        {
            "date": date,
            "modality": modality,
            "anatomical_region": region,
            "offered": offered,
            "accepted": accepted,
            "declined": declined,
            **v2,
        }
    )


def _write(path: Path, *lines: str) -> Path:
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def _published(archive: Path) -> dict[tuple[str, str], dict[str, Any]]:
    result = run_cli("build", archive, "--quiet")
    assert result.exit_code == 0, result.output
    rows = pq.read_table(archive / "site/catalog/donation_rate.parquet").to_pylist()
    return {(r["breakdown"], r["group"]): r for r in rows}


def _contract(name: str) -> Draft202012Validator:
    schema = json.loads((Path(__file__).parents[1] / "archive_builder/catalog" / name).read_text())
    return Draft202012Validator(schema, format_checker=FormatChecker())


def test_ledger_lines_follow_both_versions_of_the_portal_contract() -> None:
    from conftest import shared_file

    for name in ("offers.schema.json", "offers-v2.schema.json"):
        bundled = Path(__file__).parents[1] / "archive_builder/catalog" / name
        shared = json.loads(shared_file(f"contracts/{name}").read_text())
        assert json.loads(bundled.read_text()) == shared, f"the bundled {name} drifted"


def test_version_1_lines_stay_valid_version_2_lines() -> None:
    v1, v2 = _contract("offers.schema.json"), _contract("offers-v2.schema.json")
    old = json.loads(_line("2026-11-02", "CT", "CHEST", 40, 12, 25))
    new = json.loads(_line("2026-11-02", "CT", "CHEST", 40, 12, 25, age_band="90+", sex="O"))
    assert v1.is_valid(old) and v2.is_valid(old)
    assert v2.is_valid(new) and v2.is_valid({**new, "schema_version": 2})
    assert not v1.is_valid(new)


def test_both_versions_import_and_publish_rates(archive_dir: Path, tmp_path: Path) -> None:
    old = _write(
        tmp_path / "v1.jsonl",
        _line("2026-10-02", "CT", "CHEST", 40, 12, 25),
        _line("2026-10-02", "MR", "HEAD", 30, 10, 15),
        "",
    )
    new = _write(
        tmp_path / "v2.jsonl",
        _line("2026-11-02", "CT", "CHEST", 50, 20, 25, schema_version=2, age_band="60-69", sex="F"),
        _line("2026-11-02", "CT", "CHEST", 45, 15, 25, age_band="70-79", sex="M"),
        _line("2026-11-03", "MR", "HEAD", 35, 10, 20, age_band="60-69"),
    )
    result = run_cli("offers", archive_dir, old)
    assert result.exit_code == 0, result.output and "2 added, 0 replaced" in result.output
    result = run_cli("offers", archive_dir, new)
    assert result.exit_code == 0, result.output
    assert "3 added, 0 replaced" in result.output
    rows = _published(archive_dir)
    assert (rows[("overall", "all")]["numerator"], rows[("overall", "all")]["denominator"]) == (
        67,
        200,
    )
    assert rows[("month", "2026-10")]["denominator"] == 70
    assert rows[("age_band", "60-69")]["numerator"] == 30  # the version 2 lines only
    assert rows[("age_band", "60-69")]["denominator"] == 85
    assert rows[("sex", "F")]["denominator"] == 50 and rows[("sex", "M")]["denominator"] == 45
    lower, upper = rows[("overall", "all")]["ci_lower"], rows[("overall", "all")]["ci_upper"]
    assert lower < 67 / 200 < upper
    assert (
        (archive_dir / "site/catalog/donation_rate.csv")
        .read_text()
        .startswith("breakdown,group,numerator,denominator,rate,ci_lower,ci_upper,suppressed\n")
    )
    page = (archive_dir / "site/statistics/index.html").read_text()
    assert "67 of the 200 patients offered the donation button donated" in page
    assert "Wilson score interval" in page


def test_counts_below_five_are_never_published(archive_dir: Path, tmp_path: Path) -> None:
    ledger = _write(
        tmp_path / "offers.jsonl",
        _line("2026-10-02", "CT", "CHEST", 40, 12, 25),
        _line("2026-11-02", "CT", "CHEST", 50, 20, 25),
        _line("2026-12-03", "CT", "CHEST", 4, 3, 1),
    )
    result = run_cli("offers", archive_dir, ledger)
    assert result.exit_code == 0, result.output
    assert "3 added, 0 replaced" in result.output
    rows = _published(archive_dir)
    assert rows[("month", "2026-12")]["suppressed"] is True
    assert rows[("month", "2026-12")]["numerator"] is None
    # one withheld month would be the overall minus the others: a second one is withheld
    assert rows[("month", "2026-10")]["suppressed"] is True
    assert rows[("month", "2026-11")]["numerator"] == 20
    # the exact counts stay in private/, which never reaches the site
    site_bytes = b"".join(p.read_bytes() for p in (archive_dir / "site").rglob("*") if p.is_file())
    assert b"3 of 4" not in site_bytes and b"12 of 40" not in site_bytes
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
    assert rows[("anatomical_region", "CHEST")]["denominator"] == 41
    assert rows[("overall", "all")]["denominator"] == 51


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


def test_bad_version_2_lines_are_named_and_change_nothing(
    archive_dir: Path, tmp_path: Path
) -> None:
    good = _write(tmp_path / "good.jsonl", _line("2026-11-02", "CT", "CHEST", 40, 12, 25))
    assert run_cli("offers", archive_dir, good).exit_code == 0
    before = tree_digest(archive_dir)
    bad = _write(
        tmp_path / "bad.jsonl",
        _line("2026-11-03", "CT", "CHEST", 50, 20, 25, age_band="50-59", sex="F"),
        _line("2026-11-03", "MR", "HEAD", 20, 5, 5, age_band="100+"),
        _line("2026-11-03", "MR", "KNEE", 20, 5, 5, sex="X"),
        _line("2026-11-03", "CR", "LEG", 10, 6, 5, age_band="20-29"),
        _line("2026-11-04", "CT", "HEAD", 30, 10, 10, age_band="40-49"),
        _line("2026-11-04", "CT", "HEAD", 30, 10, 10),
        _line("2026-11-02", "CT", "CHEST", 10, 5, 5, age_band="60-69"),
        _line("2026-11-05", "CT", "HEAD", 30, 10, 10, schema_version=3),
    )
    result = run_cli("offers", archive_dir, bad)
    assert result.exit_code == 2
    message = result.output
    assert "Traceback" not in message
    assert f"{bad}:2: age_band: '100+' is not one of" in message
    assert f"{bad}:3: sex: 'X' is not one of" in message
    assert f"{bad}:4: accepted + declined (6 + 5) exceed offered (10)" in message
    assert f"{bad}:8: schema_version" in message
    assert tree_digest(archive_dir) == before
    # the lines that each pass on their own: overlaps are named too, against the file
    # and against what the archive imported earlier
    overlapping = _write(tmp_path / "overlap.jsonl", *bad.read_text().splitlines()[4:7])
    result = run_cli("offers", archive_dir, overlapping)
    assert result.exit_code == 2
    assert (
        f"{overlapping}:2: counts 2026-11-04 CT HEAD without age band or sex, but "
        f"{overlapping}:1 counts the same day and kind of study by age band" in result.output
    )
    assert f"{overlapping}:3: counts 2026-11-02 CT CHEST by age band, but the archive's" in (
        result.output
    )
    assert "nothing was imported" in result.output
    assert tree_digest(archive_dir) == before
