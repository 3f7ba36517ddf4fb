"""The offers ledger: donation-rate counts from the portal, published with small counts suppressed.

The portal sends JSON Lines in the format of ``offers.schema.json``. ``import_offers``
checks every line, then merges them into the archive's ledger under ``private/``
(the exact counts are never published); a line for a (date, modality,
anatomical_region) already there replaces it. ``published_rows`` gives what the
catalog shows: when any count of a row is below :data:`THRESHOLD`, all three
counts of that row are withheld, so none can be worked out from the others.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from datetime import date
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker

from .errors import OffersError

THRESHOLD = 5
COUNTS = ("offered", "accepted", "declined")
Key = tuple[str, str, str]


@cache
def _validator() -> Draft202012Validator:
    schema = json.loads(resources.files(__package__).joinpath("offers.schema.json").read_text())
    return Draft202012Validator(schema, format_checker=FormatChecker())


def _check_line(source: Path, number: int, text: str) -> tuple[dict[str, Any] | None, str | None]:
    where = f"{source}:{number}"
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
    return data, None


def read_ledger_file(source: Path) -> list[dict[str, Any]]:
    """Every line of a ledger file, checked; one OffersError lists every bad line."""
    try:
        text = source.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise OffersError(f"{source}: cannot read the offers ledger ({exc}).") from None
    rows: list[dict[str, Any]] = []
    problems: list[str] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        data, problem = _check_line(source, number, line)
        if problem:
            problems.append(problem)
        elif data is not None:
            rows.append(data)
    if problems:
        shown = problems[:20]
        more = f"\n  ... and {len(problems) - 20} more" if len(problems) > 20 else ""
        raise OffersError(
            f"{source} has {len(problems)} bad line{'s' if len(problems) > 1 else ''}; "
            "nothing was imported. Fix them (the format is offers.schema.json) and run "
            "`archive-builder offers` again:\n  " + "\n  ".join(shown) + more
        )
    return rows


def _key(row: dict[str, Any]) -> Key:
    return (row["date"], row["modality"], row["anatomical_region"])


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
    incoming = read_ledger_file(source)
    merged = {_key(r): r for r in load_ledger(ledger)}
    added = replaced = 0
    for row in incoming:
        if _key(row) in merged:
            replaced += 1
        else:
            added += 1
        merged[_key(row)] = row
    text = "".join(json.dumps(merged[k], sort_keys=True) + "\n" for k in sorted(merged))
    ledger.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=ledger.parent)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    Path(tmp).replace(ledger)
    return added, replaced


def published_rows(rows: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Rows as the catalog publishes them: no count below the threshold, ever."""
    for row in sorted(rows, key=_key):
        suppressed = any(row[c] < THRESHOLD for c in COUNTS)
        yield {
            "date": date.fromisoformat(row["date"]),
            "modality": row["modality"],
            "anatomical_region": row["anatomical_region"],
            **{c: None if suppressed else row[c] for c in COUNTS},
            "suppressed": suppressed,
        }
