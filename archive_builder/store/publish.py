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
_BATCH = 5  # above this many datasets to push, one recursive `datalad push` is faster
Progress = Callable[[str, int, int], None]


def store_url(base_url: str) -> str:
    return f"ria+{base_url}store"


def _local_url(store: Path) -> str:
    return f"ria+file://{store.resolve()}"


def _has_sibling(dataset: Path) -> bool:
    config = (dataset / ".git" / "config").read_text(encoding="utf-8")
    return f'[remote "{SIBLING}"]' in config


def _publish_url_recorded(dataset: Path, public: str) -> bool:
    log_text = git(dataset, "cat-file", "-p", "git-annex:remote.log", check=False)
    return any(
        f"name={STORAGE}" in line and f"url={public}" in line.split()
        for line in log_text.splitlines()
    )


def _record_public_url(dataset: Path, local: str, public: str, committer: Committer) -> None:
    # Pushes go to the local store; what clones see (git-annex:remote.log) is the public URL.
    git(dataset, "config", f"remote.{STORAGE}.ora-url", local)
    git(dataset, "config", f"remote.{STORAGE}.ora-push-url", local)
    if not _publish_url_recorded(dataset, public):
        git(dataset, "annex", "enableremote", STORAGE, f"url={public}", committer=committer)


def bare_repository(store: Path, dataset: Path) -> Path:
    dataset_id = git(dataset, "config", "-f", ".datalad/config", "datalad.dataset.id").strip()
    return store / dataset_id[:3] / dataset_id[3:]


def _alias(store: Path, dataset: Path, alias: str) -> None:
    """What ``create-sibling-ria --alias`` does, for subdatasets created recursively."""
    link = store / "alias" / alias
    bare = bare_repository(store, dataset)
    link.parent.mkdir(parents=True, exist_ok=True)
    if not link.is_symlink():
        link.symlink_to(Path("..") / bare.relative_to(store))


def publish(
    superdataset: Path,
    subdatasets: Sequence[str],
    store: Path,
    base_url: str,
    committer: Committer,
    progress: Progress | None = None,
) -> list[str]:
    """Push the superdataset and the given subdatasets (content and tags) to ``store``.

    New datasets get their siblings in one recursive ``create-sibling-ria``;
    only datasets whose branches or tags differ from the store's are pushed.
    Returns the subdatasets that were pushed.
    """
    public, local = store_url(base_url), _local_url(store)
    store.parent.mkdir(parents=True, exist_ok=True)
    new = [name for name in subdatasets if not _has_sibling(superdataset / name)]
    new_super = not _has_sibling(superdataset)
    if new_super or len(new) > _BATCH:
        # One recursive call; it visits every subdataset, so it is only worth it for many.
        _create_sibling(superdataset, SUPER_ALIAS, local, committer, recursive=True)
    else:
        for name in new:
            _create_sibling(superdataset / name, name, local, committer)
    marker = store / "published-url"
    url_changed = not marker.is_file() or marker.read_text(encoding="utf-8").strip() != public
    for name in subdatasets if url_changed else new:
        _record_public_url(superdataset / name, local, public, committer)
        _alias(store, superdataset / name, name)
    if url_changed or new_super:
        _record_public_url(superdataset, local, public, committer)
    stale = [name for name in subdatasets if _needs_push(superdataset / name, store)]
    if len(stale) > _BATCH:
        datalad(
            "push",
            "-d",
            str(superdataset),
            "-r",
            "--to",
            SIBLING,
            "--data",
            "anything",
            cwd=superdataset,
            committer=committer,
        )
    for index, name in enumerate(stale, start=1):
        _push(superdataset / name, store, committer, already_pushed=len(stale) > _BATCH)
        if progress:
            progress("publish", index, len(stale) + 1)
    # The recursive push above also pushed the superdataset, but only _push keeps its
    # info/refs current: without it a first publication of many datasets cannot be cloned.
    behind = _needs_push(superdataset, store)
    if behind or len(stale) > _BATCH:
        _push(superdataset, store, committer, already_pushed=not behind)
    marker.write_text(public + "\n", encoding="utf-8")
    if progress:
        progress("publish", len(stale) + 1, len(stale) + 1)
    return stale


def _create_sibling(
    dataset: Path, alias: str, local: str, committer: Committer, recursive: bool = False
) -> None:
    datalad(
        "create-sibling-ria",
        "-d",
        str(dataset),
        *(["-r"] if recursive else []),
        "-s",
        SIBLING,
        "--existing",
        "skip",
        "--alias",
        alias,
        "--new-store-ok",
        local,
        cwd=dataset,
        committer=committer,
    )


def _refs(repo: Path) -> dict[str, str]:
    """Branches and tags of a repository, in one git call."""
    out = run(
        [
            "git",
            "-C",
            str(repo),
            "for-each-ref",
            "--format=%(refname) %(objectname)",
            "refs/heads",
            "refs/tags",
        ],
        check=False,
    ).stdout
    refs = dict(line.split(" ", 1) for line in out.splitlines() if " " in line)
    return {ref: sha for ref, sha in refs.items() if not ref.startswith("refs/heads/synced/")}


def _needs_push(dataset: Path, store: Path) -> bool:
    bare = bare_repository(store, dataset)
    if not bare.is_dir():
        return True
    remote = _refs(bare)
    return any(remote.get(ref) != sha for ref, sha in _refs(dataset).items())


def _push(dataset: Path, store: Path, committer: Committer, already_pushed: bool = False) -> None:
    """Push one dataset, its tags, and keep git's dumb HTTP protocol working."""
    if not already_pushed:
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
    if any(ref.startswith("refs/tags/") for ref in _refs(dataset)):
        git(dataset, "push", SIBLING, "--tags", committer=committer)
    run(["git", "-C", str(bare_repository(store, dataset)), "update-server-info"])
