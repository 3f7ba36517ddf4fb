"""A withdrawal is an intent recorded first and completed by every later command.

``withdraw`` writes ``private/withdrawals/<public-id>.json`` (the public id
and the day, nothing else) before it changes anything. From then on every
``build``, ``release``, ``ingest`` and ``verify`` completes pending
withdrawals before anything else: the withdrawal recorded in
``datasets/withdrawals.json`` and committed, the dataset unregistered and
deleted, its repository and annexed files swept from the store, its rows
scrubbed from every frozen release catalog and those releases re-described.
The site is then rebuilt, and only a build that finished (pages, search and
store published) clears the intent. Each step is idempotent, so a run killed
at any point is completed by the next command.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

from ..archive import Archive, Layout
from ..fair import write_release_descriptors
from ..faults import fault_point
from ..sitefiles import SiteWriter
from ..store.cleanup import clear_git_locks
from ..store.content import StoredDonation, read_donation
from ..store.datasets import Committer, git, registered
from ..store.donations import undo_half_commit
from ..store.withdraw import sweep_store, unregister
from .freeze import scrub
from .model import Withdrawal
from .registry import WITHDRAWALS, load_releases, load_withdrawals, save_withdrawals

log = logging.getLogger(__name__)


def _folder(layout: Layout) -> Path:
    return layout.private / "withdrawals"


def request(layout: Layout, withdrawal: Withdrawal) -> None:
    """Record the intent durably, before anything is changed."""
    folder = _folder(layout)
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = folder / f"{withdrawal.public_id}.json"
    tmp = path.with_suffix(".tmp")
    with tmp.open("w", encoding="utf-8") as handle:
        json.dump({"public_id": withdrawal.public_id, "date": withdrawal.date}, handle)
        handle.flush()
        os.fsync(handle.fileno())
    tmp.replace(path)


def pending(layout: Layout) -> list[Withdrawal]:
    """Withdrawals requested and not yet completed, oldest id first."""
    folder = _folder(layout)
    if not folder.is_dir():
        return []
    found = []
    for path in sorted(folder.glob("*.json")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            found.append(Withdrawal(str(data["public_id"]), str(data["date"])))
        except (OSError, ValueError, KeyError, TypeError):
            log.warning("ignoring an unreadable withdrawal intent %s", path.name)
    return found


def clear(layout: Layout, done: list[Withdrawal]) -> None:
    for withdrawal in done:
        (_folder(layout) / f"{withdrawal.public_id}.json").unlink(missing_ok=True)


def _committed_withdrawals(superdataset: Path) -> str:
    return git(superdataset, "show", f"HEAD:{WITHDRAWALS}", check=False)


def _record(superdataset: Path, withdrawal: Withdrawal, committer: Committer) -> None:
    """``withdrawals.json`` lists the donation, staged (committed by ``unregister`` or here)."""
    listed = load_withdrawals(superdataset)
    if all(w.public_id != withdrawal.public_id for w in listed):
        save_withdrawals(superdataset, [*listed, withdrawal])
    path = superdataset / WITHDRAWALS
    if path.read_text(encoding="utf-8") != _committed_withdrawals(superdataset):
        clear_git_locks(superdataset)
        git(superdataset, "add", "--", WITHDRAWALS)


def _donations(layout: Layout) -> dict[str, StoredDonation]:
    return {pid: read_donation(layout.datasets / pid) for pid in registered(layout.datasets)}


def _scrub_releases(archive: Archive, withdrawal: Withdrawal) -> None:
    """Remove the donation's rows from every frozen release, and re-describe those releases."""
    layout = archive.layout
    history = load_releases(layout.datasets)
    donations: dict[str, StoredDonation] | None = None
    frozen = SiteWriter(layout.releases, keep_prefixes=())
    for index, (info, datasets) in enumerate(history):
        folder = layout.releases / info.version
        if not folder.is_dir():
            continue
        contained = withdrawal.public_id in datasets
        touched = scrub(folder, withdrawal.public_id, withdrawal.date, contained=contained)
        if not touched and not contained:
            continue
        if donations is None:
            donations = _donations(layout)
        previous = history[index - 1][0] if index else None
        kept = [donations[pid] for pid in datasets if pid in donations]
        write_release_descriptors(
            archive.config, kept, info, previous, frozen, folder=f"{info.version}/"
        )


def apply(archive: Archive, committer: Committer) -> list[Withdrawal]:
    """Complete every step of every pending withdrawal except the site; return them.

    The caller rebuilds the site and then calls :func:`clear`.
    """
    layout = archive.layout
    todo = pending(layout)
    if todo:
        # Whatever an interrupted command left staged is not part of the withdrawal.
        undo_half_commit(layout.datasets)
    for withdrawal in todo:
        pid = withdrawal.public_id
        message = f"Withdraw donation {pid}"
        _record(layout.datasets, withdrawal, committer)
        unregister(layout.datasets, pid, committer, message)
        fault_point("withdraw.unregistered")
        _scrub_releases(archive, withdrawal)
        fault_point("withdraw.scrubbed")
    if todo:
        removed = sweep_store(layout.store, layout.datasets)
        log.info("withdrawal: removed from the store: %s", ", ".join(removed) or "nothing")
    return todo
