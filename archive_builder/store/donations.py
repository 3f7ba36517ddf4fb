"""Adding donations to the superdataset, atomically, many at a time.

A donation is assembled as a complete DataLad dataset under
``private/staging/`` (by any worker: :func:`stage_donation`), saved, then
moved into ``datasets/`` with one rename; :func:`register_donations`
registers a batch of them with one commit. A crash leaves either a staging
folder (discarded on the next run) or complete datasets not yet registered
(registered on the next run): never half a donation in ``datasets/``, never
half a batch in the superdataset's history.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path

from ..archive import Layout
from ..faults import fault_point
from .cleanup import clear_git_locks, force_rmtree
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


def undo_half_commit(superdataset: Path) -> list[str]:
    """Drop what a commit killed halfway left in the superdataset's index.

    A registration killed inside ``git commit`` can leave the new subdataset
    staged in the index and ``.gitmodules`` edited, or a stale ``index.lock``
    (we hold the archive lock, so no other git process owns it). Going back to
    HEAD is safe: the dataset folder itself is untouched and is registered again.
    """
    notes = []
    if clear_git_locks(superdataset):
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


def _withdrawn(superdataset: Path) -> set[str]:
    path = superdataset / "withdrawals.json"
    try:
        return {str(item["public_id"]) for item in json.loads(path.read_text(encoding="utf-8"))}
    except (OSError, ValueError, KeyError, TypeError):
        return set()


def recover(layout: Layout, committer: Committer) -> list[str]:
    """Finish or undo what an interrupted ingest left behind; say what was done."""
    notes: list[str] = undo_half_commit(layout.datasets)
    notes += discard_staging(layout)
    known = set(registered(layout.datasets))
    withdrawn = _withdrawn(layout.datasets)
    complete = []
    for child in sorted(layout.datasets.iterdir()):
        if not child.is_dir() or child.name.startswith(".") or child.name in known:
            continue
        if child.name in withdrawn:
            force_rmtree(child)  # its donor withdrew it: never registered again
            notes.append(f"deleted {child.name}, withdrawn, left on disk by an interrupted run")
            continue
        if is_dataset(child) and head_commit(child) and is_clean(child):
            complete.append(child)
            notes.append(
                f"registered {child.name}, left complete but unregistered by an interrupted ingest"
            )
        else:
            raise StoreError(
                f"{child} is in datasets/ but is not a complete donation dataset; move it out "
                "of the archive and ingest its package again."
            )
    if complete:
        save(layout.datasets, _message([c.name for c in complete]), committer, *complete)
    return notes


def discard_staging(layout: Layout) -> list[str]:
    """Remove whatever an ingest left in ``private/staging/`` (the archive lock is held)."""
    notes = []
    if layout.staging.exists():
        for leftover in layout.staging.iterdir():
            force_rmtree(leftover)  # annex objects are read-only: not only root may delete them
            notes.append("discarded an ingest interrupted before it was complete")
    return notes


def stage_donation(
    staging: Path, committer: Committer, fill: Callable[[Path], None], message: str
) -> Path:
    """Create a dataset at ``staging`` (a new folder), let ``fill`` write its files, save it."""
    try:
        create_donation_dataset(staging, committer)
        fill(staging)
        save(staging, message, committer)
    except BaseException:
        force_rmtree(staging)
        raise
    fault_point("ingest.staged")
    return staging


def _message(public_ids: list[str]) -> str:
    if len(public_ids) == 1:
        return f"Add donation {public_ids[0]}"
    return f"Add {len(public_ids)} donations\n\n" + "\n".join(public_ids)


def register_donations(layout: Layout, committer: Committer, staged: dict[str, Path]) -> None:
    """Move staged datasets (public id -> staging folder) into ``datasets/``, one rename
    each, and register them all with one commit."""
    if not staged:
        return
    moved = []
    for public_id, path in staged.items():
        target = donation_dir(layout, public_id)
        if target.exists():
            raise StoreError(
                f"{target} already exists; run `archive-builder ingest` again to recover."
            )
        path.rename(target)  # staging is inside the archive: the same file system
        moved.append(target)
    fault_point("ingest.moved")
    save(layout.datasets, _message(list(staged)), committer, *moved)
