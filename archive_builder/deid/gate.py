"""The one gate every text leaves ``private/`` through.

DICOM files are checked by the verifier (``verify.find_leaks``) as they are
saved; every other file written into a donation's dataset or a ``deid``
output (``donation.json``, ``instances.json``, ``deid-report.json``,
``README.md``) is written by a ``Gate``, which searches its exact text for
every identifying value of the original headers (and the portal's donation
id) first, with the same search. Catalogs, pages and descriptors are built
from those files only. ``Gate.check_folder`` then refuses a folder holding a
file that neither passed the verifier nor was written by the gate, so that a
new output cannot forget it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from .errors import DeidError, LeakError
from .identifiers import Identifiers

# Written by DataLad and git-annex into every dataset: configuration, no donation data.
_TOOL_FILES = frozenset({".gitattributes", ".datalad/config", ".datalad/.gitattributes"})


class Gate:
    """Writes the text files of one study's output after checking them."""

    def __init__(self, identifiers: Identifiers) -> None:
        self.identifiers = identifiers
        self.written: set[Path] = set()

    def check(self, text: str, what: str) -> None:
        """Raise LeakError when ``text`` repeats an identifying value (never naming it)."""
        if self.identifiers.find(text):
            raise LeakError([f"{what} repeats an identifying value of the original header"])

    def write_text(self, path: Path, text: str) -> None:
        self.check(text, path.name)
        path.write_text(text, encoding="utf-8")
        self.written.add(path)

    def write_json(self, path: Path, data: Any, *, sort_keys: bool = False) -> None:
        text = json.dumps(data, indent=1, ensure_ascii=False, sort_keys=sort_keys)
        self.write_text(path, text + "\n")

    def check_folder(self, root: Path, verified: Iterable[str]) -> None:
        """Refuse ``root`` if it holds a file that is neither a DICOM file the verifier
        passed (``verified``, paths relative to ``root``) nor a file this gate wrote."""
        allowed = {root / relpath for relpath in verified} | self.written
        for path in sorted(root.rglob("*")):
            relative = path.relative_to(root)
            if relative.parts[0] == ".git" or path.is_dir() or path in allowed:
                continue
            if relative.as_posix() in _TOOL_FILES:
                continue
            raise DeidError(
                f"{relative.as_posix()} was written without passing the verifier; nothing is "
                "published (a bug: every output goes through deid.gate.Gate)"
            )
