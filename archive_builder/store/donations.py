"""Adding donations to the superdataset, atomically.

A donation is assembled as a complete DataLad dataset under
``private/staging/``, saved, then moved into ``datasets/`` with one rename and
registered with one commit. A crash leaves either a staging folder (discarded
on the next run) or a complete dataset not yet registered (registered on the
next run): never half a donation in ``datasets/``.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable
from pathlib import Path

from ..archive import Layout
from .datasets import (
    Committer,
    create_donation_dataset,
    git,
    head_commit,
    is_clean,
    is_dataset,
    registered,
    save,
)
from .errors import StoreError

log = logging.getLogger(__name__)


def donation_dir(layout: Layout, public_id: str) -> Path:
    return layout.datasets / public_id


def is_registered(layout: Layout, public_id: str) -> bool:
    return public_id in registered(layout.datasets)


def _undo_half_commit(superdataset: Path) -> list[str]:
    """Drop what a commit killed halfway left in the superdataset's index.

    A registration killed inside ``git commit`` can leave the new subdataset
    staged in the index and ``.gitmodules`` edited, or a stale ``index.lock``
    (we hold the archive lock, so no other git process owns it). Going back to
    HEAD is safe: the dataset folder itself is untouched and is registered again.
    """
    notes = []
    index_lock = superdataset / ".git" / "index.lock"
    if index_lock.exists():
        index_lock.unlink()
        notes.append("removed a lock file left by an interrupted commit")
    staged = git(superdataset, "diff", "--cached", "--name-only").split()
    gitmodules_changed = bool(git(superdataset, "status", "--porcelain", "--", ".gitmodules"))
    if staged or gitmodules_changed:
        git(superdataset, "reset", "-q")
        if git(superdataset, "ls-tree", "HEAD", ".gitmodules").strip():
            git(superdataset, "checkout", "-q", "HEAD", "--", ".gitmodules")
        else:
            (superdataset / ".gitmodules").unlink(missing_ok=True)
        notes.append("undid a registration interrupted halfway through its commit")
    return notes


def recover(layout: Layout, committer: Committer) -> list[str]:
    """Finish or undo what an interrupted ingest left behind; say what was done."""
    notes: list[str] = _undo_half_commit(layout.datasets)
    if layout.staging.exists():
        for leftover in layout.staging.iterdir():
            shutil.rmtree(leftover, ignore_errors=True)
            notes.append("discarded an ingest interrupted before it was complete")
    known = set(registered(layout.datasets))
    for child in sorted(layout.datasets.iterdir()):
        if not child.is_dir() or child.name.startswith(".") or child.name in known:
            continue
        if is_dataset(child) and head_commit(child) and is_clean(child):
            save(layout.datasets, f"Add donation {child.name}", committer, child)
            notes.append(
                f"registered {child.name}, left complete but unregistered by an interrupted ingest"
            )
        else:
            raise StoreError(
                f"{child} is in datasets/ but is not a complete donation dataset; move it out "
                "of the archive and ingest its package again."
            )
    return notes


def add_donation(
    layout: Layout,
    committer: Committer,
    public_id: str,
    fill: Callable[[Path], None],
    message: str,
) -> Path:
    """Create the donation's dataset, let ``fill`` write its files, save, move and register."""
    staging = layout.staging / public_id
    try:
        create_donation_dataset(staging, committer)
        fill(staging)
        save(staging, message, committer)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    target = donation_dir(layout, public_id)
    if target.exists():
        shutil.rmtree(staging, ignore_errors=True)
        raise StoreError(f"{target} already exists; run `archive-builder ingest` again to recover.")
    staging.rename(target)
    save(layout.datasets, message, committer, target)
    return target
