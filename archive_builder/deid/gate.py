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
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from pydicom.datadict import tag_for_keyword

from .errors import DeidError, LeakError
from .identifiers import Identifiers

# Values of a JSON output that are not free text: UIDs and numbers, hex digests,
# git-annex keys.
_NOT_FREE_TEXT = re.compile(r"[\d.+-]+|[0-9a-f]{32,}|[A-Z0-9]+-s\d+--[0-9a-f]+(\.\w+)?")
# Keys of the JSON outputs (snake_case), DICOM keywords and tags without a keyword (how
# the report counts an unknown attribute): the engine's, or the standard's.
_KEY = re.compile(r"[a-z]+(_[a-z0-9]+)*|\([0-9A-F]{4},[0-9A-F]{4}\)")
# A person's title before a capitalised word: a name, whether a header collected it or not.
_TITLED_NAME = re.compile(r"\b(?:Dr|Drs|Prof|Mrs|Mme|Herr|Frau)\b\.?\s*[A-Z]")
# Written by DataLad and git-annex into every dataset: configuration, no donation data.
_TOOL_FILES = frozenset({".gitattributes", ".datalad/config", ".datalad/.gitattributes"})


class Gate:
    """Writes the text files of one study's output after checking them."""

    def __init__(self, identifiers: Identifiers, fixed: frozenset[str] = frozenset()) -> None:
        self.identifiers = identifiers
        self.fixed = fixed  # texts the engine writes whatever the study: not searched
        self.written: set[Path] = set()

    def check(self, text: str, what: str) -> None:
        """Raise LeakError when ``text`` repeats an identifying value, or names a person
        with a title (Dr Jansen: a name no header collected), never naming it."""
        if self.identifiers.find(text):
            raise LeakError([f"{what} repeats an identifying value of the original header"])
        if _TITLED_NAME.search(text):
            raise LeakError([f"{what} names a person (a title before a name)"])

    def write_text(self, path: Path, text: str) -> None:
        """Write ``text`` after checking it, less the fixed texts it holds."""
        searched = text
        for fixed in self.fixed:
            if fixed and fixed in searched:
                searched = searched.replace(fixed, " ")
        self.check(searched, path.name)
        path.write_text(text, encoding="utf-8")
        self.written.add(path)

    def write_json(self, path: Path, data: Any, *, sort_keys: bool = False) -> None:
        """Write ``data`` as JSON after checking each of its texts: UIDs, numbers and
        digests as the verifier checks them in a header (whole words), the rest as text
        (a keyed UID's 39 digits would otherwise hold some six-digit ID by chance)."""
        for text, key in _texts(data):
            if text in self.fixed or (key and (_KEY.fullmatch(text) or tag_for_keyword(text))):
                continue
            strict = bool(_NOT_FREE_TEXT.fullmatch(text))
            if strict:
                if self.identifiers.find(text, strict=True):
                    raise LeakError(
                        [f"{path.name} repeats an identifying value of the original header"]
                    )
            else:
                self.check(text, path.name)
        text = json.dumps(data, indent=1, ensure_ascii=False, sort_keys=sort_keys)
        path.write_text(text + "\n", encoding="utf-8")
        self.written.add(path)

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


def _texts(data: Any) -> Iterator[tuple[str, bool]]:
    """Every string of a JSON value, keys included: (text, whether it is a key)."""
    if isinstance(data, str):
        yield data, False
    elif isinstance(data, dict):
        for key, value in data.items():
            yield str(key), True
            yield from _texts(value)
    elif isinstance(data, list | tuple):
        for value in data:
            yield from _texts(value)
