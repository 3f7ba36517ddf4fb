"""Publishing donation datasets to the local store directly, many at a time.

What ``create-sibling-ria`` and ``datalad push`` leave in a local RIA store,
written with plain git and file copies: no DataLad process, no git-annex
process and no ``ora`` special remote program per dataset (those cost about
1.7 s per dataset; this costs a few git calls). For each dataset:

1. its local configuration: the ``store`` git remote and the ``store-storage``
   special remote's local overrides, exactly as the slow path leaves them;
2. its bare repository in the store layout (``<id[:3]>/<id[3:]>``, layout
   version 2, ``datalad.ora-remote.uuid``);
3. the annexed files of its checked-out tree, copied into the repository's
   ``annex/objects`` (``hashdirmixed``, as the ``ora`` remote lays them out),
   each through a temporary name;
4. one commit on its ``git-annex`` branch (``git fast-import``) recording the
   special remote (``remote.log``: type, ``externaltype=ora``, the *public*
   URL, ``archive-id``; ``uuid.log``) and the presence of every copied file
   in it, in git-annex's own log formats;
5. one atomic ``git push`` of every branch and tag, then
   ``git update-server-info``, then the alias.

Steps 1-4 make nothing a clone can see (a clone starts from refs, pushed at
step 5, and refs name only files already copied): a publication killed at any
point is finished by the next build, which sees refs that differ and does it
all again (each step skips what is done). The slow path (``publish.py``)
remains for the superdataset, for datasets whose storage sibling was set up
another way (a moved archive, a changed ``base_url``) and for git-annex
journals left uncommitted.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import subprocess
import uuid as uuids
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from ..errors import DiskFullError, disk_full_message
from ..faults import fault_point
from ..process import _DISK_FULL, ToolError, run, tool_env
from .datasets import Committer, git
from .errors import StoreError
from .urls import hashdirmixed

log = logging.getLogger(__name__)

_ANNEX_TARGET = "/annex/objects/"
_POINTER_MAX = 1024  # an unlocked annexed file's pointer is one short line


def hashdirlower(key: str) -> str:
    """git-annex's ``hashdirlower`` of ``key`` (where its logs live in the git-annex branch)."""
    digest = hashlib.md5(key.encode(), usedforsecurity=False).hexdigest()
    return f"{digest[:3]}/{digest[3:6]}/"


def workers() -> int:
    """Datasets published at once: the work is mostly waiting for git and the disk."""
    return max(2, min(8, 2 * (os.cpu_count() or 1)))


def _git_bytes(
    repo: Path, args: Sequence[str], data: bytes, identity: tuple[str, str] | None = None
) -> bytes:
    """A git command fed ``data``: its output, or the project's error saying what failed."""
    proc = subprocess.run(
        ["git", "-C", str(repo), *args],
        input=data,
        capture_output=True,
        env=tool_env(identity),
        check=False,
    )
    if proc.returncode != 0:
        output = proc.stderr.decode("utf-8", "replace")
        if any(sign in output for sign in _DISK_FULL):
            raise DiskFullError(disk_full_message(f"`git {args[0]}` in {repo}"))
        detail = "\n  ".join(output.strip().splitlines()[-5:])
        raise ToolError(f"`git {' '.join(args)}` failed in {repo}:\n  {detail}")
    return proc.stdout


def _cat_batch(repo: Path, names: Sequence[str]) -> list[bytes | None]:
    """The contents of each object name (``None`` where missing), in one git call."""
    if not names:
        return []
    out = _git_bytes(repo, ["cat-file", "--batch"], "".join(f"{n}\n" for n in names).encode())
    found: list[bytes | None] = []
    pos = 0
    for _ in names:
        end = out.index(b"\n", pos)
        header = out[pos:end].split()
        pos = end + 1
        if len(header) == 2 and header[1] == b"missing":
            found.append(None)
            continue
        size = int(header[2])
        found.append(out[pos : pos + size])
        pos += size + 1
    return found


def annexed_keys(dataset: Path) -> list[str]:
    """The git-annex keys of every annexed file in the dataset's ``HEAD``."""
    listing = git(dataset, "ls-tree", "-r", "-l", "-z", "HEAD")
    candidates = []
    for entry in listing.split("\0"):
        if not entry:
            continue
        meta, _ = entry.split("\t", 1)
        mode, kind, sha, size = meta.split()
        if kind == "blob" and (mode == "120000" or int(size) <= _POINTER_MAX):
            candidates.append(sha)
    keys = []
    for blob in _cat_batch(dataset, candidates):
        text = (blob or b"").decode("utf-8", "replace").strip()
        if _ANNEX_TARGET in text and "\n" not in text:
            keys.append(text.rsplit("/", 1)[-1])
    return sorted(set(keys))


def _log_lines(text: bytes | None) -> dict[str, str]:
    """A git-annex log (``uuid.log``, ``remote.log``, a location log) by uuid."""
    lines = {}
    for line in (text or b"").decode("utf-8").splitlines():
        fields = line.split()
        if not fields:
            continue
        # location logs start with the timestamp, the others with the uuid
        uuid = fields[2] if fields[0].endswith("s") and len(fields) >= 3 else fields[0]
        lines[uuid] = line
    return lines


def _render(lines: dict[str, str]) -> bytes:
    return "".join(f"{lines[u]}\n" for u in sorted(lines)).encode("utf-8")


def _copy_object(source: Path, target: Path) -> None:
    if target.is_file() and target.stat().st_size == source.stat().st_size:
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.part")
    shutil.copyfile(source, tmp)
    tmp.chmod(0o444)  # as git-annex keeps its objects
    tmp.replace(target)


def _fast_import(
    dataset: Path, branch: str, parent: str, files: dict[str, bytes], committer: Committer
) -> None:
    """One commit on ``branch`` (child of ``parent``) replacing ``files``."""
    name, email = committer.identity
    stamp = f"{committer.timestamp} +0000"
    chunks = [
        f"commit refs/heads/{branch}\n".encode(),
        f"committer {name} <{email}> {stamp}\n".encode(),
        b"data 6\nupdate\n",
        f"from {parent}\n".encode(),
    ]
    for path, data in sorted(files.items()):
        chunks.append(f"M 100644 inline {path}\ndata {len(data)}\n".encode() + data + b"\n")
    chunks.append(b"done\n")
    _git_bytes(dataset, ["fast-import", "--quiet", "--done"], b"".join(chunks), committer.identity)


def _config_block(
    bare: Path, storage: str, sibling: str, uuid: str, local: str, public: str, recorded: str
) -> str:
    """What the slow path's ``git config`` calls and ``initremote`` leave in ``.git/config``."""
    return (
        f'[remote "{storage}"]\n'
        f"\tora-url = {local}\n"
        f"\tora-push-url = {local}\n"
        "\tannex-externaltype = ora\n"
        f"\tannex-uuid = {uuid}\n"
        "\tannex-verified = verified\n"
        "\tskipFetchAll = true\n"
        f"\t{recorded} = {public}\n"
        "\tannex-cost = 100.0\n"
        f'[remote "{sibling}"]\n'
        f"\turl = {bare}\n"
        f"\tfetch = +refs/heads/*:refs/remotes/{sibling}/*\n"
        "\tannex-ignore = true\n"
        f"\tdatalad-publish-depends = {storage}\n"
    )


def publish_dataset(
    dataset: Path,
    bare: Path,
    dsid: str,
    local: str,
    public: str,
    committer: Committer,
    names: dict[str, str],
) -> None:
    """Publish one dataset to ``bare`` (see the module's docstring); idempotent.

    ``names`` holds the remote names and the config key the slow path uses
    (``storage``, ``sibling``, ``recorded``), so both paths leave the same state.
    """
    from .publish import _ensure_layout, _write_once, refs  # one module's helpers

    storage, sibling, recorded = names["storage"], names["sibling"], names["recorded"]
    config_path = dataset / ".git" / "config"
    config = config_path.read_text(encoding="utf-8")
    uuid = git(dataset, "config", "--get", f"remote.{storage}.annex-uuid", check=False).strip()
    uuid = uuid or str(uuids.uuid4())
    # 1. local configuration (never pushed)
    if f'[remote "{storage}"]' not in config and f'[remote "{sibling}"]' not in config:
        block = _config_block(bare, storage, sibling, uuid, local, public, recorded)
        with config_path.open("a", encoding="utf-8") as handle:
            handle.write(block)
    else:  # left by an interrupted run: set key by key
        for key, value in (
            (f"remote.{storage}.ora-url", local),
            (f"remote.{storage}.ora-push-url", local),
            (f"remote.{storage}.annex-externaltype", "ora"),
            (f"remote.{storage}.annex-uuid", uuid),
            (f"remote.{storage}.annex-verified", "verified"),
            (f"remote.{storage}.skipFetchAll", "true"),
            (f"remote.{storage}.{recorded}", public),
            (f"remote.{storage}.annex-cost", "100.0"),
            (f"remote.{sibling}.url", str(bare)),
            (f"remote.{sibling}.fetch", f"+refs/heads/*:refs/remotes/{sibling}/*"),
            (f"remote.{sibling}.annex-ignore", "true"),
            (f"remote.{sibling}.datalad-publish-depends", storage),
        ):
            git(dataset, "config", key, value)
    # 2. the bare repository
    _ensure_layout(bare)
    if not (bare / "HEAD").is_file():
        run(["git", "init", "-q", "--bare", "--template=", str(bare)])
    bare_config = (bare / "config").read_text(encoding="utf-8")
    if f"\tuuid = {uuid}\n" not in bare_config:
        git(bare, "config", "datalad.ora-remote.uuid", uuid)
    head = (dataset / ".git" / "HEAD").read_text(encoding="utf-8")
    if (bare / "HEAD").read_text(encoding="utf-8") != head and head.startswith("ref: "):
        _write_once(bare / "HEAD", head)
    fault_point("publish.sibling")
    # 3. the annexed files
    keys = annexed_keys(dataset)
    objects = dataset / ".git" / "annex" / "objects"
    for key in keys:
        where = f"{hashdirmixed(key)}{key}/{key}"
        source = objects / where
        if not source.is_file():
            raise StoreError(
                f"{dataset} lacks the content of one of its files ({key}); "
                "run `git annex fsck` in it, or withdraw the donation"
            )
        _copy_object(source, bare / "annex" / "objects" / where)
    # 4. the git-annex branch: the special remote and where every file is
    parent = git(dataset, "rev-parse", "--verify", "-q", "refs/heads/git-annex").strip()
    logs = ["remote.log", "uuid.log", *(f"{hashdirlower(k)}{k}.log" for k in keys)]
    current = _cat_batch(dataset, [f"{parent}:{path}" for path in logs])
    stamp = f"timestamp={committer.timestamp}s"
    changes: dict[str, bytes] = {}
    remotes = _log_lines(current[0])
    entry = (
        f"{uuid} archive-id={dsid} autoenable=true encryption=none externaltype=ora "
        f"name={storage} type=external url={public} {stamp}"
    )
    if remotes.get(uuid, "").rsplit(" ", 1)[0] != entry.rsplit(" ", 1)[0]:
        remotes[uuid] = entry
        changes["remote.log"] = _render(remotes)
    described = _log_lines(current[1])
    if uuid not in described:
        described[uuid] = f"{uuid} {storage} {stamp}"
        changes["uuid.log"] = _render(described)
    for path, text in zip(logs[2:], current[2:], strict=True):
        present = _log_lines(text)
        if present.get(uuid, "").split()[1:2] != ["1"]:
            present[uuid] = f"{committer.timestamp}s 1 {uuid}"
            changes[path] = _render(present)
    if changes:
        _fast_import(dataset, "git-annex", parent, changes, committer)
    fault_point("publish.recorded")
    # 5. refs, then what lets a plain web server serve them, then the alias (by the caller)
    wanted = refs(dataset)
    pushed = refs(bare)
    if any(pushed.get(ref) != sha for ref, sha in wanted.items()):
        git(dataset, "push", "-q", "--atomic", sibling, *(f"{ref}:{ref}" for ref in wanted))
    fault_point("publish.pushed")
    run(["git", "-C", str(bare), "update-server-info"])


def publish_many(
    jobs: Sequence[tuple[Path, Path, str, str]],
    local: str,
    public: str,
    committer: Committer,
    names: dict[str, str],
    done: Callable[[str, int], None] | None = None,
) -> None:
    """:func:`publish_dataset` for each ``(dataset, bare, dsid, alias)``, several at once."""

    def one(job: tuple[Path, Path, str, str]) -> str:
        dataset, bare, dsid, alias = job
        publish_dataset(dataset, bare, dsid, local, public, committer, names)
        return alias

    with ThreadPoolExecutor(max_workers=workers()) as pool:
        for index, alias in enumerate(pool.map(one, jobs), start=1):
            if done:
                done(alias, index)
