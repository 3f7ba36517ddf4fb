"""Publishing the datasets as a DataLad RIA store inside the site (``site/store/``).

The store works from any static web host: every bare repository gets
``git update-server-info`` after each push (so git's dumb HTTP protocol can
clone it), the superdataset is aliased ``archive`` and each donation by its
public id, and the storage sibling records the public URL from
``archive.toml``, never a local path. Pushing uses a local override of that
URL (``remote.store-storage.ora-url``), which stays in the archive's own
repositories and is never pushed.

A researcher then runs::

    datalad clone ria+<base_url>store#~archive
    datalad get <public-id>/series-001/instance-0001.dcm
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path

from ..process import run
from .datasets import Committer, datalad, git

log = logging.getLogger(__name__)

SIBLING = "store"
STORAGE = "store-storage"
SUPER_ALIAS = "archive"
Progress = Callable[[str, int, int], None]


def store_url(base_url: str) -> str:
    return f"ria+{base_url}store"


def _local_url(store: Path) -> str:
    return f"ria+file://{store.resolve()}"


def _has_sibling(dataset: Path) -> bool:
    remotes = git(dataset, "remote").split()
    return SIBLING in remotes


def _publish_url_recorded(dataset: Path, public: str) -> bool:
    log_text = git(dataset, "cat-file", "-p", "git-annex:remote.log", check=False)
    return any(
        f"name={STORAGE}" in line and f"url={public}" in line.split()
        for line in log_text.splitlines()
    )


def _add_sibling(dataset: Path, store: Path, alias: str, public: str, committer: Committer) -> None:
    local = _local_url(store)
    datalad(
        "create-sibling-ria",
        "-d",
        str(dataset),
        "-s",
        SIBLING,
        "--alias",
        alias,
        "--new-store-ok",
        local,
        cwd=dataset,
        committer=committer,
    )
    _record_public_url(dataset, local, public, committer)


def _record_public_url(dataset: Path, local: str, public: str, committer: Committer) -> None:
    # Pushes go to the local store; what clones see (git-annex:remote.log) is the public URL.
    git(dataset, "config", f"remote.{STORAGE}.ora-url", local)
    git(dataset, "config", f"remote.{STORAGE}.ora-push-url", local)
    if not _publish_url_recorded(dataset, public):
        git(dataset, "annex", "enableremote", STORAGE, f"url={public}", committer=committer)


def bare_repository(store: Path, dataset: Path) -> Path:
    dataset_id = git(dataset, "config", "-f", ".datalad/config", "datalad.dataset.id").strip()
    return store / dataset_id[:3] / dataset_id[3:]


def publish(
    superdataset: Path,
    subdatasets: Sequence[str],
    store: Path,
    base_url: str,
    committer: Committer,
    progress: Progress | None = None,
) -> list[str]:
    """Push the superdataset and the given subdatasets (content and tags) to ``store``.

    Returns the subdatasets whose store repository changed.
    """
    public = store_url(base_url)
    store.parent.mkdir(parents=True, exist_ok=True)
    pushed: list[str] = []
    for index, name in enumerate(subdatasets, start=1):
        dataset = superdataset / name
        if not _has_sibling(dataset):
            _add_sibling(dataset, store, name, public, committer)
        else:
            _record_public_url(dataset, _local_url(store), public, committer)
        if _push(dataset, store, committer):
            pushed.append(name)
        if progress:
            progress("publish", index, len(subdatasets) + 1)
    if not _has_sibling(superdataset):
        _add_sibling(superdataset, store, SUPER_ALIAS, public, committer)
    else:
        _record_public_url(superdataset, _local_url(store), public, committer)
    _push(superdataset, store, committer)
    if progress:
        progress("publish", len(subdatasets) + 1, len(subdatasets) + 1)
    return pushed


def _push(dataset: Path, store: Path, committer: Committer) -> bool:
    """Push one dataset if the store lacks its current state; keep dumb HTTP working."""
    bare = bare_repository(store, dataset)
    head = git(dataset, "rev-parse", "HEAD").strip()
    annex = git(dataset, "rev-parse", "git-annex").strip()
    tags = git(dataset, "tag", "--list").split()
    if bare.is_dir():
        remote_head = run(
            ["git", "-C", str(bare), "rev-parse", "-q", "--verify", "HEAD"], check=False
        )
        remote_annex = run(
            ["git", "-C", str(bare), "rev-parse", "-q", "--verify", "git-annex"], check=False
        )
        remote_tags = run(["git", "-C", str(bare), "tag", "--list"], check=False).stdout.split()
        if (
            remote_head.stdout.strip() == head
            and remote_annex.stdout.strip() == annex
            and set(tags) <= set(remote_tags)
        ):
            return False
    datalad(
        "push",
        "-d",
        str(dataset),
        "--to",
        SIBLING,
        "--data",
        "anything",
        cwd=dataset,
        committer=committer,
    )
    if tags:
        git(dataset, "push", SIBLING, "--tags", committer=committer)
    run(["git", "-C", str(bare), "update-server-info"])
    return True
