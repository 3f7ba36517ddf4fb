"""Cleaning up after interrupted commands: read-only annex trees and stale git locks."""

from __future__ import annotations

import logging
import os
import shutil
import stat
from pathlib import Path

log = logging.getLogger(__name__)

# Lock files git leaves behind when it is killed; we hold the archive's lock, so no
# other git process of ours can own them.
_GIT_LOCKS = ("index.lock", "HEAD.lock", "config.lock", "packed-refs.lock", "shallow.lock")


def force_rmtree(path: Path) -> None:
    """Remove a tree that git-annex made read-only, as any user (not only root)."""
    if not path.exists() and not path.is_symlink():
        return
    if path.is_symlink() or not path.is_dir():
        path.unlink()
        return
    for root, dirs, _files in os.walk(path):
        for name in dirs:
            target = Path(root) / name
            if not target.is_symlink():
                target.chmod(target.stat().st_mode | stat.S_IRWXU)
    path.chmod(path.stat().st_mode | stat.S_IRWXU)
    shutil.rmtree(path)


def clear_git_locks(repo: Path) -> list[str]:
    """Remove the lock files a killed git left in ``repo``; return what was removed."""
    gitdir = repo / ".git" if (repo / ".git").is_dir() else repo
    found = [gitdir / name for name in _GIT_LOCKS]
    refs = gitdir / "refs"
    if refs.is_dir():
        found += list(refs.rglob("*.lock"))
    annex = gitdir / "annex"
    if annex.is_dir():
        found += [p for p in annex.glob("*.lock") if p.is_file()]
    removed = []
    for lock in found:
        if lock.is_file():
            lock.unlink()
            removed.append(str(lock.relative_to(repo)))
    if removed:
        log.warning("removed git lock files left by an interrupted command in %s", repo)
    return removed
