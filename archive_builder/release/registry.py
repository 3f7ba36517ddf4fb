"""The archive's public history: releases and withdrawals, kept in the superdataset.

``datasets/releases.json`` lists every release with the commit of each
donation dataset it contains; ``datasets/withdrawals.json`` lists withdrawn
donations by public id and day. Both are versioned with the datasets, so a
clone of any release says what it contained and what was withdrawn since.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

from .. import text as published_text
from .model import ReleaseInfo, Withdrawal

RELEASES = "releases.json"
WITHDRAWALS = "withdrawals.json"
CHANGELOG = "CHANGELOG.md"


def _read(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        return []
    data = json.loads(path.read_text(encoding="utf-8"))
    return list(data)


def _write(path: Path, items: list[dict[str, Any]]) -> None:
    path.write_text(json.dumps(items, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def load_releases(superdataset: Path) -> list[tuple[ReleaseInfo, dict[str, str]]]:
    """Every release, oldest first, with the dataset commit of each donation it holds."""
    out = []
    for item in _read(superdataset / RELEASES):
        datasets = dict(item.pop("datasets", {}))
        # Notes released before they were checked: published without what XML cannot hold.
        item["notes"] = published_text.clean(str(item.get("notes", "")), multiline=True)
        for key in ("added", "withdrawn", "revised"):
            item[key] = tuple(item.get(key, ()))
        out.append((ReleaseInfo(**item), datasets))
    return out


def save_releases(superdataset: Path, releases: list[tuple[ReleaseInfo, dict[str, str]]]) -> None:
    items = [{**asdict(info), "datasets": datasets} for info, datasets in releases]
    _write(superdataset / RELEASES, items)
    (superdataset / CHANGELOG).write_text(changelog([info for info, _ in releases]), "utf-8")


def load_withdrawals(superdataset: Path) -> list[Withdrawal]:
    return [Withdrawal(**item) for item in _read(superdataset / WITHDRAWALS)]


def save_withdrawals(superdataset: Path, withdrawals: list[Withdrawal]) -> None:
    _write(superdataset / WITHDRAWALS, [asdict(w) for w in withdrawals])


def release_added(releases: list[tuple[ReleaseInfo, dict[str, str]]]) -> dict[str, str]:
    """The first release that contained each donation."""
    first: dict[str, str] = {}
    for info, datasets in releases:
        for public_id in datasets:
            first.setdefault(public_id, info.version)
    return first


def changelog(releases: list[ReleaseInfo]) -> str:
    lines = ["# Changelog", "", "Every release of the archive, newest first.", ""]
    for info in reversed(releases):
        lines.append(f"## {info.version} ({info.date})")
        lines.append("")
        if info.doi:
            lines += [f"DOI: https://doi.org/{info.doi}", ""]
        if info.notes.strip():
            lines += [info.notes.strip(), ""]
        for label, ids in (
            ("Added", info.added),
            ("Revised", info.revised),
            ("Withdrawn", info.withdrawn),
        ):
            if ids:
                lines.append(f"- {label}: " + ", ".join(ids))
        if not (info.added or info.revised or info.withdrawn):
            lines.append("- No change to the donations.")
        lines.append("")
    return "\n".join(lines)
