"""Removing a withdrawn donation: from the superdataset, from disk, and from the published store.

Every function here is idempotent and works from whatever state an
interrupted run left (a git lock, a half-removed folder, a store repository
without its alias): running it again finishes the job.
"""

from __future__ import annotations

import logging
from pathlib import Path

from ..faults import fault_point
from .cleanup import clear_git_locks, force_rmtree
from .datasets import Committer, git, registered
from .publish import SUPER_ALIAS, dataset_id, published_repositories

log = logging.getLogger(__name__)


def unregister(superdataset: Path, public_id: str, committer: Committer, message: str) -> None:
    """Take a subdataset out of the superdataset (committed with whatever else is staged)."""
    clear_git_locks(superdataset)
    if git(superdataset, "ls-files", "--", public_id).strip():
        git(superdataset, "rm", "-q", "--cached", "--", public_id)
    modules = superdataset / ".gitmodules"
    section = f"submodule.{public_id}"
    if modules.is_file() and git(
        superdataset, "config", "-f", ".gitmodules", "--get-regexp", f"^{section}\\.", check=False
    ):
        git(superdataset, "config", "-f", ".gitmodules", "--remove-section", section)
        if modules.read_text(encoding="utf-8").strip():
            git(superdataset, "add", "--", ".gitmodules")
        else:
            git(superdataset, "rm", "-q", "--cached", "--", ".gitmodules")
            modules.unlink()
    if git(superdataset, "diff", "--cached", "--name-only").strip():
        git(superdataset, "commit", "-q", "-m", message, committer=committer)
    fault_point("withdraw.committed")
    force_rmtree(superdataset / public_id)


def sweep_store(store: Path, superdataset: Path) -> list[str]:
    """Remove from the store every repository and alias no registered dataset owns.

    That is how a withdrawn donation leaves the store, whatever an interrupted
    run left of it: its repository, its annexed files, its alias. Returns
    what was removed (aliases and dataset ids).
    """
    if not store.is_dir():
        return []
    names = registered(superdataset)
    keep = {dataset_id(superdataset)} | {dataset_id(superdataset / name) for name in names}
    removed = []
    aliases = store / "alias"
    if aliases.is_dir():
        wanted = {SUPER_ALIAS, *names}
        for link in sorted(aliases.iterdir()):
            if link.name not in wanted or not link.resolve().is_dir():
                force_rmtree(link)
                removed.append(f"alias/{link.name}")
    for dsid, path in sorted(published_repositories(store).items()):
        if dsid not in keep:
            force_rmtree(path)
            removed.append(dsid)
            if not any(path.parent.iterdir()):
                path.parent.rmdir()
    return removed
