"""The three downloads of a cohort, byte for byte what the cohort page offers.

- ``cohort.sh``: ``datalad clone`` of the archive, then one ``datalad get`` per
  donation with exactly the selected files (DataLad checks each file's key).
- ``cohort.csv``: public_id, path, size, sha256, annex_key, url of every file.
- ``cohort-urls.txt``: the files' HTTPS URLs in the store, for any web client
  (the current release's store; a withdrawn donation's files are gone from it).
"""

from __future__ import annotations

import csv
import io
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

COLUMNS = ("public_id", "path", "size", "sha256", "annex_key", "url")
SCRIPT, CSV, URLS = "cohort.sh", "cohort.csv", "cohort-urls.txt"


@dataclass(frozen=True)
class Counts:
    donations: int
    series: int
    files: int
    bytes: int


def script(
    files: Sequence[Mapping[str, Any]], query: str, store: str, archive: str, counts: Counts
) -> str:
    lines = [
        "#!/bin/sh",
        f"# A cohort of {archive}: {counts.donations} donations, {counts.series} series, "
        f"{counts.files} files, {counts.bytes} bytes.",
        "# Selected with this SQL over the archive's catalogs:",
        *(f"#   {line}" for line in query.strip().splitlines()),
        "# Needs DataLad and git-annex: pip install datalad git-annex",
        "# (in an active virtual environment). Usage: sh cohort.sh [FOLDER]",
        "set -eu",
        f'datalad clone {shlex.quote(store + "#~archive")} "${{1:-archive}}"',
        'cd "${1:-archive}"',
    ]
    current: str | None = None
    paths: list[str] = []
    for row in [*files, {"public_id": None, "path": ""}]:
        if row["public_id"] != current and paths:
            lines.append("datalad get " + " ".join(shlex.quote(p) for p in paths))
            paths = []
        current = row["public_id"]
        if current is not None:
            paths.append(f"{current}/{row['path']}")
    return "\n".join(lines) + "\n"


def manifest(files: Sequence[Mapping[str, Any]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for row in files:
        writer.writerow(["" if row[c] is None else row[c] for c in COLUMNS])
    return out.getvalue()


def url_list(files: Sequence[Mapping[str, Any]]) -> str:
    return "".join(f"{row['url']}\n" for row in files if row["url"])
