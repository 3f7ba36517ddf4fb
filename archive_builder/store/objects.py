"""Where each published file's content lies in the store: a plain HTTPS URL.

The RIA store in ``site/store/`` keeps every annexed file as a plain file at
``store/<id[:3]>/<id[3:]>/annex/objects/<hashdir>/<key>/<key>`` (``id``: the
dataset's DataLad id; ``hashdir``: git-annex's mixed-case hash directories), so
any web client fetches a DICOM file from the static host without DataLad. The
path uses the dataset's id, not its alias: aliases are symlinks, which static
hosts do not serve.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

# git-annex's alphabet for hash directories (Annex.DirHashes: display_32bits_as_dir)
_CHARS = "0123456789zqjxkmvwgpfZQJXKMVWGPF"
_DATASET_ID = re.compile(r"^\s*id\s*=\s*([0-9a-f-]{36})\s*$", re.MULTILINE)


def hashdir_mixed(key: str) -> str:
    """git-annex's ``hashdirmixed`` of ``key``: two levels, e.g. ``"m4/pM/"``."""
    word = int.from_bytes(hashlib.md5(key.encode()).digest()[:4], "little")  # noqa: S324
    chars = [_CHARS[(word >> (6 * n)) & 31] for n in range(8)]
    swapped = "".join(chars[n + 1] + chars[n] for n in range(0, 8, 2))[:6]
    return f"{swapped[0:2]}/{swapped[2:4]}/"


def object_path(dataset_id: str, key: str) -> str:
    """The site-relative path of an annexed file's content in the store."""
    return f"store/{dataset_id[:3]}/{dataset_id[3:]}/annex/objects/{hashdir_mixed(key)}{key}/{key}"


def dataset_id(dataset: Path) -> str | None:
    """A dataset's DataLad id, read from its ``.datalad/config``; None if it has none."""
    try:
        text = (dataset / ".datalad" / "config").read_text(encoding="utf-8")
    except OSError:
        return None
    found = _DATASET_ID.search(text)
    return found.group(1) if found else None
