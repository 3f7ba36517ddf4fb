"""The offers ledger: donation-rate counts from the portal, kept private, published as rates.

The portal sends JSON Lines in the format of ``offers-v2.schema.json`` (version 1
lines, ``offers.schema.json``, are valid version 2 lines without the optional
strata). ``import_offers`` checks every line, then merges them into the
archive's ledger under ``private/`` (the exact counts are never published): a
line for a (date, modality, anatomical_region, age_band, sex) already there
replaces it. What the site and the catalog publish is computed by
:mod:`archive_builder.catalog.rates`, with small counts suppressed.

Beyond the contract, a line is refused when its accepted plus declined exceed
offered, and when it overlaps another line: the lines of one day, modality and
region must all be split the same way (all without strata, all by age band,
all by sex, or all by both), or some patients would be counted twice.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker

from .errors import OffersError

COUNTS = ("offered", "accepted", "declined")
STRATA = ("age_band", "sex")
SCHEMA = "offers-v2.schema.json"
Key = tuple[str, str, str, str, str]
Cell = tuple[str, str, str]
MAX_SHOWN = 20


@cache
def _validator() -> Draft202012Validator:
    schema = json.loads(resources.files(__package__).joinpath(SCHEMA).read_text())
    return Draft202012Validator(schema, format_checker=FormatChecker())


def key_of(row: dict[str, Any]) -> Key:
    """The replacement key: a re-sent line with the same key replaces the earlier one."""
    return (
        row["date"],
        row["modality"],
        row["anatomical_region"],
        row.get("age_band", ""),
        row.get("sex", ""),
    )


def cell_of(row: dict[str, Any]) -> Cell:
    return (row["date"], row["modality"], row["anatomical_region"])


def split_of(row: dict[str, Any]) -> str:
    """How a line splits its day's patients: 'none', 'age band', 'sex' or 'age band and sex'."""
    present = [s.replace("_", " ") for s in STRATA if s in row]
    return " and ".join(present) or "none"


def _described(split: str) -> str:
    return "without age band or sex" if split == "none" else f"by {split}"


@dataclass(frozen=True)
class Line:
    """One checked line and where it came from."""

    where: str
    data: dict[str, Any]


def _check_line(where: str, text: str) -> tuple[dict[str, Any] | None, str | None]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        return None, f"{where}: not JSON ({exc.msg} at column {exc.colno})"
    errors = sorted(_validator().iter_errors(data), key=lambda e: list(e.absolute_path))
    if errors:
        first = errors[0]
        field = ".".join(str(p) for p in first.absolute_path) or "the line"
        return None, f"{where}: {field}: {first.message}"
    try:
        date.fromisoformat(data["date"])
    except ValueError:
        return None, f"{where}: date: {data['date']!r} is not a calendar day (YYYY-MM-DD)"
    if data["accepted"] + data["declined"] > data["offered"]:
        return None, (
            f"{where}: accepted + declined ({data['accepted']} + {data['declined']}) exceed "
            f"offered ({data['offered']}); each patient offered answers at most once"
        )
    return data, None


def _overlaps(lines: Iterable[Line], known: dict[Cell, tuple[str, str]]) -> list[str]:
    """Lines whose split differs from another line of the same day, modality and region.

    ``known``: cell -> (split, where) of lines already accepted (the ledger's, or
    earlier lines of the same file).
    """
    problems = []
    for line in lines:
        cell, split = cell_of(line.data), split_of(line.data)
        seen = known.setdefault(cell, (split, line.where))
        if seen[0] != split:
            day, modality, region = cell
            problems.append(
                f"{line.where}: counts {day} {modality} {region} {_described(split)}, but "
                f"{seen[1]} counts the same day and kind of study {_described(seen[0])}: "
                "the patients would be counted twice. Send a day's lines for one kind of "
                "study split one way only"
            )
    return problems


def _raise(source: Path, problems: list[str]) -> None:
    shown = problems[:MAX_SHOWN]
    more = f"\n  ... and {len(problems) - MAX_SHOWN} more" if len(problems) > MAX_SHOWN else ""
    raise OffersError(
        f"{source} has {len(problems)} bad line{'s' if len(problems) > 1 else ''}; "
        f"nothing was imported. Fix them (the format is {SCHEMA}; version 1 lines are "
        "valid too) and run `archive-builder offers` again:\n  " + "\n  ".join(shown) + more
    )


def _read_lines(source: Path) -> list[Line]:
    """Every line of a ledger file, checked on its own; one OffersError lists every bad line."""
    try:
        text = source.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise OffersError(f"{source}: cannot read the offers ledger ({exc}).") from None
    lines: list[Line] = []
    problems: list[str] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        data, problem = _check_line(f"{source}:{number}", raw)
        if problem:
            problems.append(problem)
        elif data is not None:
            lines.append(Line(f"{source}:{number}", data))
    if problems:
        _raise(source, problems)
    return lines


def read_ledger_file(source: Path) -> list[dict[str, Any]]:
    """Every line of a ledger file, checked, overlaps included; one OffersError lists them all."""
    lines = _read_lines(source)
    problems = _overlaps(lines, {})
    if problems:
        _raise(source, problems)
    return [line.data for line in lines]


def ledger_path(private: Path) -> Path:
    """Where an archive keeps its merged ledger: under ``private/``, never published as is."""
    return private / "offers" / "ledger.jsonl"


def load_ledger(path: Path) -> list[dict[str, Any]]:
    """The archive's merged ledger (empty if none was imported), sorted by key."""
    if not path.is_file():
        return []
    return read_ledger_file(path)


def import_offers(ledger: Path, source: Path) -> tuple[int, int]:
    """Merge ``source`` into the archive's ``ledger``; return (lines added, lines replaced).

    All or nothing: a bad line anywhere leaves the ledger as it was.
    """
    incoming = _read_lines(source)
    merged = {key_of(r): r for r in load_ledger(ledger)}
    replaced_keys = {key_of(line.data) for line in incoming}
    known = {
        cell_of(r): (split_of(r), f"the archive's ledger (imported earlier, {r['date']})")
        for k, r in merged.items()
        if k not in replaced_keys
    }
    problems = _overlaps(incoming, known)
    if problems:
        _raise(source, problems)
    added = replaced = 0
    for line in incoming:
        key = key_of(line.data)
        if key in merged:
            replaced += 1
        else:
            added += 1
        merged[key] = line.data
    text = "".join(json.dumps(merged[k], sort_keys=True) + "\n" for k in sorted(merged))
    ledger.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=ledger.parent)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    Path(tmp).replace(ledger)
    return added, replaced
