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


def recover(layout: Layout, committer: Committer) -> list[str]:
    """Finish or undo what an interrupted ingest left behind; say what was done."""
    notes: list[str] = []
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
