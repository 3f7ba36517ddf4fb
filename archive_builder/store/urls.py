"""Where a file of a donation lies in the published store, as a plain HTTPS URL.

The RIA store keeps each dataset's annexed files as plain files under
``store/<id[:3]>/<id[3:]>/annex/objects/<hashdirmixed><key>/<key>``, so any web
client can fetch them without DataLad. ``hashdirmixed`` is git-annex's own
two-level directory hash of the key (MD5 of the key, in its 32-letter alphabet).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

# git-annex Annex/DirHashes.hs: display_32bits_as_dir.
_LETTERS = "0123456789zqjxkmvwgpfZQJXKMVWGPF"


def hashdirmixed(key: str) -> str:
    """git-annex's ``hashdirmixed`` of ``key``: ``"ZF/fK/"``."""
    digest = hashlib.md5(key.encode(), usedforsecurity=False).digest()
    word = int.from_bytes(digest[:4], "little")
    letters = [_LETTERS[(word >> (6 * i)) & 31] for i in range(4)]
    # Pairs are swapped: the 1st letter is the 2nd character, and so on.
    return f"{letters[1]}{letters[0]}/{letters[3]}{letters[2]}/"


def dataset_id(dataset: Path) -> str | None:
    """The DataLad dataset id recorded in ``.datalad/config``, or None if there is none."""
    try:
        text = (dataset / ".datalad" / "config").read_text(encoding="utf-8")
    except OSError:
        return None
    for line in text.splitlines():
        name, _, value = line.partition("=")
        if name.strip() == "id":
            return value.strip()
    return None


def object_url(base_url: str, dataset: str, key: str) -> str:
    """The HTTPS URL of an annexed file in the store published at ``base_url``."""
    return (
        f"{base_url}store/{dataset[:3]}/{dataset[3:]}/annex/objects/{hashdirmixed(key)}{key}/{key}"
    )
