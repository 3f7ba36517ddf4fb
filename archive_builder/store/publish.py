"""Publishing the datasets as a DataLad RIA store inside the site (``site/store/``).

The store works from any static web host: every bare repository gets
``git update-server-info`` after each push (so git's dumb HTTP protocol can
clone it), the superdataset is aliased ``archive`` and each donation by its
public id.

What clones see is the public URL from ``archive.toml`` and nothing else:
each dataset's storage sibling (a git-annex ``ora`` special remote) is
initialised with ``url=ria+<base_url>store`` from its very first push, so
the ``git-annex`` branch, history included, never names a local path. The
archive reaches the store through local overrides
(``remote.store-storage.ora-url``, ``ora-push-url`` and the git remote's
``url``) that stay in its own repositories' ``.git/config``, are never pushed,
and are derived from where the archive is at every build: a moved or copied
archive publishes to its own store.

Every step of setting up a sibling is idempotent, so a build killed halfway
through creating siblings is finished by the next one.

Donation datasets are published by :mod:`.bulk` (plain git and file copies,
several at once, no DataLad or special remote process per dataset) whenever
their storage sibling is unset or was set up for this store and public URL;
the steps below (``initremote``, ``datalad push``) remain for the
superdataset and for the rest (a moved archive, a changed ``base_url``).

A researcher then runs::

    datalad clone ria+<base_url>store#~archive
    datalad get <public-id>/series-001/instance-0001.dcm
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from ..faults import fault_point
from ..process import run
from .bulk import publish_many
from .datasets import Committer, datalad, git
from .objects import dataset_id as read_dataset_id

log = logging.getLogger(__name__)

SIBLING = "store"
STORAGE = "store-storage"
SUPER_ALIAS = "archive"
_BATCH = 5  # above this many datasets to push, one recursive `datalad push` is faster
Progress = Callable[[str, int, int], None]
_RECORDED = "archive-public-url"  # local config: the public URL git-annex records
# What a RIA store (layout version 1) holds at its top, besides repositories.
STORE_FILES = ("ria-layout-version", "error_logs", "alias")


def store_url(base_url: str) -> str:
    return f"ria+{base_url}store"


def _local_url(store: Path) -> str:
    return f"ria+file://{store.resolve()}"


def dataset_id(dataset: Path) -> str:
    """The DataLad id of a dataset, read from its committed ``.datalad/config``."""
    found = read_dataset_id(dataset)
    if found is None:
        raise ValueError(f"{dataset} has no DataLad id")
    return found


def repository_path(store: Path, dsid: str) -> Path:
    return store / dsid[:3] / dsid[3:]


def bare_repository(store: Path, dataset: Path) -> Path:
    return repository_path(store, dataset_id(dataset))


def _write_once(path: Path, text: str) -> None:
    if not path.is_file() or path.read_text(encoding="utf-8") != text:
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)


def ensure_store(store: Path) -> None:
    """The store's own layout files (what ``create-sibling-ria --new-store-ok`` writes)."""
    store.mkdir(parents=True, exist_ok=True)
    (store / "error_logs").mkdir(exist_ok=True)
    (store / "alias").mkdir(exist_ok=True)
    _write_once(store / "ria-layout-version", "1\n")


def _bare_ready(bare: Path) -> bool:
    try:
        config = (bare / "config").read_text(encoding="utf-8")
    except OSError:
        return False
    return (bare / "HEAD").is_file() and '[datalad "ora-remote"]' in config


def _ensure_layout(bare: Path) -> None:
    """The dataset's place in the store, which the special remote checks before it starts."""
    bare.mkdir(parents=True, exist_ok=True)
    _write_once(bare / "ria-layout-version", "2\n")
    (bare / "archives").mkdir(exist_ok=True)
    (bare / "annex" / "objects").mkdir(parents=True, exist_ok=True)


def _ensure_bare(bare: Path, uuid: str) -> None:
    if _bare_ready(bare):
        return
    # No template: no sample hooks or descriptions to publish.
    run(["git", "init", "-q", "--bare", "--template=", str(bare)])
    # How a clone from another URL finds the storage sibling (as create-sibling-ria does).
    git(bare, "config", "datalad.ora-remote.uuid", uuid)


def _alias(store: Path, bare: Path, alias: str) -> None:
    """A relative link ``alias/<name>`` to the repository, as DataLad makes it."""
    link = store / "alias" / alias
    target = Path("..") / bare.relative_to(store)
    if link.is_symlink() and link.readlink() == target:
        return
    tmp = link.with_name(f".{alias}.tmp")
    tmp.unlink(missing_ok=True)
    tmp.symlink_to(target)
    tmp.replace(link)


def _special_remote_uuid(dataset: Path) -> str | None:
    """The uuid of the storage sibling named in the git-annex branch, if one was initialised."""
    text = git(dataset, "cat-file", "-p", "git-annex:remote.log", check=False)
    for line in text.splitlines():
        fields = line.split()
        if fields and f"name={STORAGE}" in fields:
            return fields[0]
    return None


def _local_uuid(dataset: Path) -> str:
    return git(dataset, "config", "--get", f"remote.{STORAGE}.annex-uuid", check=False).strip()


def _public_url_recorded(dataset: Path, public: str) -> bool:
    text = git(dataset, "cat-file", "-p", "git-annex:remote.log", check=False)
    return any(
        f"name={STORAGE}" in line.split() and f"url={public}" in line.split()
        for line in text.splitlines()
    )


def _sibling_ready(dataset: Path, bare: Path, local: str, public: str) -> bool:
    """Whether the sibling is complete and points at this store (read from files, no git call)."""
    try:
        config = (dataset / ".git" / "config").read_text(encoding="utf-8")
    except OSError:
        return False
    needed = (
        f'[remote "{SIBLING}"]',
        f"\turl = {bare}\n",
        f"\tora-url = {local}\n",
        f"\tora-push-url = {local}\n",
        f"\tdatalad-publish-depends = {STORAGE}\n",
        f"\t{_RECORDED} = {public}\n",
        "\tannex-uuid = ",
    )
    return all(piece in config for piece in needed) and _bare_ready(bare)


def ensure_sibling(
    dataset: Path, store: Path, alias: str, public: str, committer: Committer
) -> bool:
    """Make ``dataset`` publishable to ``store``; return whether anything had to be done."""
    local = _local_url(store)
    bare = bare_repository(store, dataset)
    if _sibling_ready(dataset, bare, local, public) and (store / "alias" / alias).is_symlink():
        return False
    ensure_store(store)
    # Local overrides first: the special remote then works on the local store while
    # git-annex records only the public URL given to initremote.
    git(dataset, "config", f"remote.{STORAGE}.ora-url", local)
    git(dataset, "config", f"remote.{STORAGE}.ora-push-url", local)
    _ensure_layout(bare)
    if _special_remote_uuid(dataset) is None:
        args = [
            "git",
            "-C",
            str(dataset),
            "annex",
            "initremote",
            STORAGE,
            "type=external",
            "externaltype=ora",
            "encryption=none",
            "autoenable=true",
            f"url={public}",
        ]
        env = committer.env
        first = run(args, identity=committer.identity, extra_env=env, check=False)
        if first.returncode != 0:
            if "already a special remote" not in first.stderr + first.stdout:
                run(args, identity=committer.identity, extra_env=env)  # raises, saying why
            # An initremote interrupted before git-annex committed its journal.
            git(dataset, "annex", "enableremote", STORAGE, f"url={public}", committer=committer)
    elif not (_local_uuid(dataset) and _public_url_recorded(dataset, public)):
        # Known to the git-annex branch but not enabled here with the public URL recorded
        # (an interrupted setup, a new base_url): enable it. A moved or copied archive
        # has it enabled already and needs only the local overrides above.
        extra = [] if _public_url_recorded(dataset, public) else [f"url={public}"]
        git(dataset, "annex", "enableremote", STORAGE, *extra, committer=committer)
    fault_point("publish.sibling")
    uuid = _local_uuid(dataset)
    if not uuid:
        raise RuntimeError(f"git annex could not set up {STORAGE} in {dataset}")
    # Remembered locally so that the next build needs no git call to know it is recorded.
    git(dataset, "config", f"remote.{STORAGE}.{_RECORDED}", public)
    _ensure_bare(bare, uuid)
    git(dataset, "config", f"remote.{SIBLING}.url", str(bare))
    git(dataset, "config", f"remote.{SIBLING}.fetch", f"+refs/heads/*:refs/remotes/{SIBLING}/*")
    git(dataset, "config", f"remote.{SIBLING}.annex-ignore", "true")
    git(dataset, "config", f"remote.{SIBLING}.datalad-publish-depends", STORAGE)
    _alias(store, bare, alias)
    return True


def publish(
    superdataset: Path,
    subdatasets: Sequence[str],
    store: Path,
    base_url: str,
    committer: Committer,
    progress: Progress | None = None,
    bulk: bool = True,
) -> list[str]:
    """Push the superdataset and the given subdatasets (content and tags) to ``store``.

    Siblings are checked (from files, cheaply) and completed where needed;
    only datasets whose branches or tags differ from the store's are pushed,
    the superdataset last, so that a clone never names a commit the store lacks.
    Returns the subdatasets that were pushed. ``bulk=False`` publishes every
    dataset the DataLad way (for comparison: the benchmark measures both).
    """
    public = store_url(base_url)
    local = _local_url(store)
    ensure_store(store)
    direct: list[str] = []
    slow: list[str] = []
    for name in subdatasets:
        dataset = superdataset / name
        if not _needs_push(dataset, store) and (store / "alias" / name).is_symlink():
            continue
        (direct if bulk and _direct_ok(dataset, store, local, public) else slow).append(name)
    total = len(direct) + len(slow) + 1

    def done(alias: str, index: int) -> None:
        _alias(store, bare_repository(store, superdataset / alias), alias)
        if progress:
            progress("publish", index, total)

    jobs = []
    for name in direct:
        dataset = superdataset / name
        dsid = dataset_id(dataset)
        jobs.append((dataset, repository_path(store, dsid), dsid, name))
    names = {"storage": STORAGE, "sibling": SIBLING, "recorded": _RECORDED}
    publish_many(jobs, local, public, committer, names, done)
    for name in slow:
        ensure_sibling(superdataset / name, store, name, public, committer)
    ensure_sibling(superdataset, store, SUPER_ALIAS, public, committer)
    stale = slow
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
    for index, name in enumerate(stale, start=len(direct) + 1):
        _push(superdataset / name, store, committer, already_pushed=len(stale) > _BATCH)
        if progress:
            progress("publish", index, total)
    # The recursive push above also pushed the superdataset, but only _push keeps its
    # info/refs current: without it a first publication of many datasets cannot be cloned.
    behind = _needs_push(superdataset, store)
    if behind or len(stale) > _BATCH:
        _push(superdataset, store, committer, already_pushed=not behind)
    if progress:
        progress("publish", total, total)
    return direct + slow


def refs(repo: Path) -> dict[str, str]:
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
    found = dict(line.split(" ", 1) for line in out.splitlines() if " " in line)
    return {ref: sha for ref, sha in found.items() if not ref.startswith("refs/heads/synced/")}


def _direct_ok(dataset: Path, store: Path, local: str, public: str) -> bool:
    """Whether :mod:`.bulk` can publish ``dataset``: its storage sibling is unset or was
    set up for this store and public URL, and git-annex has no uncommitted journal."""
    journal = dataset / ".git" / "annex" / "journal"
    if journal.is_dir() and any(journal.iterdir()):
        return False
    recorded = _special_remote_uuid(dataset)
    if recorded is None:
        return True
    bare = bare_repository(store, dataset)
    return recorded == _local_uuid(dataset) and _sibling_ready(dataset, bare, local, public)


def _needs_push(dataset: Path, store: Path) -> bool:
    """Whether the store's repository lacks a branch or tag of ``dataset``, in git or in
    ``info/refs`` (what git's dumb HTTP protocol reads: a publication killed between the
    push and ``update-server-info`` left refs that plain web clients cannot see)."""
    bare = bare_repository(store, dataset)
    if not bare.is_dir():
        return True
    wanted = refs(dataset)
    remote = refs(bare)
    if any(remote.get(ref) != sha for ref, sha in wanted.items()):
        return True
    served = _served_refs(bare)
    return any(served.get(ref) != sha for ref, sha in wanted.items())


def _served_refs(bare: Path) -> dict[str, str]:
    """``info/refs`` of a bare repository: ref -> commit, as a web server serves them."""
    try:
        text = (bare / "info" / "refs").read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    pairs = (line.split("\t", 1) for line in text.splitlines() if "\t" in line)
    return {ref: sha for sha, ref in pairs}


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
    if any(ref.startswith("refs/tags/") for ref in refs(dataset)):
        git(dataset, "push", SIBLING, "--tags", committer=committer)
    run(["git", "-C", str(bare_repository(store, dataset)), "update-server-info"])


def published_repositories(store: Path) -> dict[str, Path]:
    """Every repository folder in the store, by DataLad id (``<3 chars>/<rest>``)."""
    found: dict[str, Path] = {}
    if not store.is_dir():
        return found
    for first in os.scandir(store):
        if len(first.name) != 3 or not first.is_dir(follow_symlinks=False):
            continue
        for second in os.scandir(first.path):
            found[first.name + second.name] = Path(second.path)
    return found


def _aliases(store: Path) -> dict[str, str]:
    try:
        with os.scandir(store / "alias") as entries:
            return {e.name: str(Path(e.path).readlink()) if e.is_symlink() else "" for e in entries}
    except (FileNotFoundError, NotADirectoryError):
        return {}


def changed_paths(store: Path, before: Path, pushed: Iterable[Path]) -> list[str]:
    """What ``store`` may hold differently from ``before``, a copy of it made before
    this build's publication (paths relative to the store).

    Its top-level files; each alias that one has and the other lacks or links
    elsewhere; and the folder of every repository prefix (``abc/``) where one
    has a repository the other lacks or where ``pushed`` (dataset folders)
    were published. Git and git-annex change nothing else in a repository.
    """
    paths = {name for name in STORE_FILES if name != "alias"}
    now, then = _aliases(store), _aliases(before)
    paths |= {
        f"alias/{name}" for name in now.keys() | then.keys() if now.get(name) != then.get(name)
    }
    mine, theirs = published_repositories(store), published_repositories(before)
    prefixes = {dsid[:3] for dsid in mine.keys() ^ theirs.keys()}
    prefixes |= {dataset_id(dataset)[:3] for dataset in pushed}
    return sorted(paths | prefixes)
