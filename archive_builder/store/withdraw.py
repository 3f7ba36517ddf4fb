"""Removing a withdrawn donation: from the superdataset, from disk, and from the published store."""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path

from .datasets import Committer, datalad


def _force_rmtree(path: Path) -> None:
    """Remove a tree that git-annex made read-only."""
    if not path.exists() and not path.is_symlink():
        return
    for root, dirs, files in os.walk(path):
        for name in dirs + files:
            target = Path(root) / name
            if not target.is_symlink():
                target.chmod(target.stat().st_mode | stat.S_IWUSR | stat.S_IRUSR | stat.S_IXUSR)
    path.chmod(path.stat().st_mode | stat.S_IWUSR)
    shutil.rmtree(path)


def remove_donation(superdataset: Path, public_id: str, message: str, committer: Committer) -> None:
    """Unregister the subdataset and delete it, content included, in one saved change."""
    datalad(
        "remove",
        "-d",
        str(superdataset),
        "--reckless",
        "kill",
        "-m",
        message,
        str(superdataset / public_id),
        cwd=superdataset,
        committer=committer,
    )
    _force_rmtree(superdataset / public_id)


def purge_from_store(store: Path, public_id: str) -> bool:
    """Delete a donation's repository and its annexed files from the published store.

    Clones of older releases still name the donation (its opaque id) but can
    no longer fetch anything of it. Returns whether something was removed.
    """
    alias = store / "alias" / public_id
    if not alias.is_symlink():
        return False
    repository = alias.resolve()
    if repository.is_dir() and repository.is_relative_to(store.resolve()):
        _force_rmtree(repository)
    alias.unlink()
    return True
