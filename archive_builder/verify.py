"""``verify``: is what the archive serves complete, intact, and nothing more?

Every check reports problems as lines; none raises on odd input (a tampered
``SHA256SUMS``, a stray file, a symlink, a store repository without commits):
a check that cannot run at all says so as a problem of its own.
"""

from __future__ import annotations

import gzip
import logging
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from .archive import Archive, Layout, locked
from .errors import ArchiveError
from .pipeline import complete_pending
from .process import run
from .release import withdrawal
from .release.actions import half_made
from .release.registry import load_releases, load_withdrawals
from .sitefiles import DIGEST as _DIGEST
from .sitefiles import SUMS, parse_sums, sha256, walk_site
from .store.datasets import subdataset_commits, tag_exists
from .store.publish import (
    STORAGE,
    STORE_FILES,
    SUPER_ALIAS,
    bare_repository,
    dataset_id,
    refs,
)

log = logging.getLogger(__name__)


def _sidecar_problem(site: Path, name: str) -> str | None:
    target = name.removesuffix(".sha256")
    try:
        fields = (site / name).read_bytes().split()
        expected = fields[0].decode("ascii") if fields else ""
    except (OSError, UnicodeDecodeError):
        expected = ""
    if not _DIGEST.fullmatch(expected):
        return f"site/{name} holds no SHA-256 digest"
    if not (site / target).is_file() or sha256(site / target) != expected:
        return f"site/{target} does not match {name}"
    return None


def verify_site(site: Path) -> list[str]:
    if site.is_symlink() or not site.is_dir():
        what = "a symlink" if site.is_symlink() else "missing"
        return [f"{site} is {what}; run `archive-builder build`"]
    try:
        data = (site / SUMS).read_bytes()
    except OSError:
        return [f"{site / SUMS} is missing; run `archive-builder build`"]
    sums, problems = parse_sums(data)
    present, odd = walk_site(site)
    problems += odd
    present.discard(SUMS)
    for name in sorted(set(sums) - present):
        problems.append(f"site/{name} is listed in {SUMS} but missing")
    for name in sorted(present - set(sums)):
        problems.append(f"site/{name} is not part of the build (extra file)")
    for name in sorted(set(sums) & present):
        if sha256(site / name) != sums[name]:
            problems.append(f"site/{name} does not match its checksum")
    for name in sorted(n for n in present if n.endswith(".sha256")):
        found = _sidecar_problem(site, name)
        if found:
            problems.append(found)
    return problems


def guarded(label: str, check: Callable[[], list[str]]) -> list[str]:
    """Run one check; an error it did not foresee is a problem to report, not a traceback."""
    try:
        return check()
    except Exception as exc:  # verify must never crash on what it finds
        log.debug("verify: %s failed", label, exc_info=True)
        return [f"{label}: could not be checked ({type(exc).__name__}: {exc})"]


def _git(repo: Path, *args: str) -> tuple[int, str]:
    result = run(["git", "-C", str(repo), *args], check=False)
    return result.returncode, result.stdout.strip()


def _store_layout(store: Path, owners: dict[str, str]) -> list[str]:
    """Nothing in the store but its layout files, the repositories of ``owners``, their aliases."""
    problems = []
    for entry in sorted(store.iterdir()):
        rel = f"site/store/{entry.name}"
        if entry.is_symlink():
            problems.append(f"{rel} is a symlink; the store holds repositories")
        elif entry.name in STORE_FILES:
            continue
        elif len(entry.name) == 3 and entry.is_dir():
            for repo in sorted(entry.iterdir()):
                if entry.name + repo.name not in owners or repo.is_symlink():
                    problems.append(f"{rel}/{repo.name} is not the repository of any dataset")
        else:
            problems.append(f"{rel} is not part of the store (extra file)")
    aliases = store / "alias"
    wanted = {owners[dsid]: dsid for dsid in owners}
    if aliases.is_dir():
        for link in sorted(aliases.iterdir()):
            dsid = wanted.get(link.name)
            expected = Path("..") / dsid[:3] / dsid[3:] if dsid else None
            if not link.is_symlink() or expected is None or link.readlink() != expected:
                problems.append(f"site/store/alias/{link.name} is not an alias of a dataset")
    return problems


def _store_dataset(store: Path, dataset: Path, alias: str, recorded: str | None) -> list[str]:
    """One dataset in the store: alias, commits, tags and annexed content, as the archive has."""
    bare = bare_repository(store, dataset)
    link = store / "alias" / alias
    if not (bare / "HEAD").is_file():
        return [f"store: {alias} is not published (no repository)"]
    if not link.is_symlink() or link.resolve() != bare.resolve():
        return [f"store: the alias {alias} does not lead to its repository"]
    problems = []
    if recorded is not None:
        code, _ = _git(bare, "cat-file", "-e", f"{recorded}^{{commit}}")
        if code != 0:
            problems.append(f"store: {alias} lacks the commit the superdataset records")
    # The git-annex branch moves on locally (fsck records what it saw): compare the rest.
    published, local = refs(bare), refs(dataset)
    local.pop("refs/heads/git-annex", None)
    for ref, sha in sorted(local.items()):
        if published.get(ref) != sha:
            problems.append(f"store: {alias} has {ref} at another commit than the archive")
    if not problems:
        result = run(
            ["git", "-C", str(dataset), "annex", "fsck", "--from", STORAGE, "--quiet"], check=False
        )
        if result.returncode != 0:
            detail = (result.stderr or result.stdout).strip().splitlines()[-3:]
            problems.append(f"store: {alias}: git annex fsck failed: " + " | ".join(detail))
    return problems


def verify_store(archive: Archive) -> list[str]:
    layout = archive.layout
    store = layout.store
    if store.is_symlink() or not (store / "ria-layout-version").is_file():
        return [f"{store} holds no DataLad store; run `archive-builder build`"]
    recorded = subdataset_commits(layout.datasets)
    owners = {dataset_id(layout.datasets): SUPER_ALIAS}
    owners.update({dataset_id(layout.datasets / pid): pid for pid in recorded})
    problems = _store_layout(store, owners)
    problems += _store_dataset(store, layout.datasets, SUPER_ALIAS, None)
    for public_id, commit in recorded.items():
        problems += guarded(
            f"store: {public_id}",
            lambda p=public_id, c=commit: _store_dataset(store, layout.datasets / p, p, c),  # type: ignore[misc]
        )
    for withdrawn in load_withdrawals(layout.datasets):
        if (store / "alias" / withdrawn.public_id).is_symlink():
            problems.append(f"store: withdrawn donation {withdrawn.public_id} is still published")
    return problems


def _allowed_mentions(public_id: str, relpath: str) -> bool:
    """Where a withdrawn donation's opaque id may still appear: its withdrawal notices.

    Its tombstone (page and signposting linkset), the release pages and change
    lists that name what each release added or withdrew, the ``_headers`` file
    that gives every page its links, and ``SHA256SUMS``.
    """
    parts = relpath.split("/")
    return (
        relpath in (SUMS, "_headers", "releases/index.html")
        or (parts[:2] == ["datasets", public_id] and len(parts) == 3 and parts[2] in _TOMBSTONE)
        or (len(parts) == 3 and parts[0] == "releases" and parts[2] in _NOTICES)
    )


_TOMBSTONE = ("index.html", "linkset.json")
_NOTICES = ("index.html", "changes.json", "withdrawn.json")
_GZIP = b"\x1f\x8b"


def _readable(path: Path) -> bytes:
    data = path.read_bytes()
    if data.startswith(_GZIP):  # the search index's shards
        try:
            return gzip.decompress(data)
        except (OSError, EOFError):
            return data
    return data


def _parquet_traces(path: Path, ids: set[str]) -> int:
    """Rows of withdrawn donations that carry anything but the id and the withdrawn flag."""
    table = pq.read_table(path)
    if "public_id" not in table.column_names:
        return 0
    mask = pc.is_in(table.column("public_id"), value_set=pa.array(sorted(ids), pa.string()))
    rows = table.filter(pc.fill_null(mask, False)).to_pylist()
    allowed = {"public_id", "release_added", "withdrawn"}
    return sum(
        1
        for row in rows
        if row.get("withdrawn") is not True
        or any(v not in (None, [], "") for k, v in row.items() if k not in allowed)
    )


def verify_withdrawals(layout: Layout) -> list[str]:
    """No pending withdrawal, and no trace of a withdrawn donation in the site."""
    problems = [
        f"the withdrawal of {w.public_id} is pending; run `archive-builder build` to complete it"
        for w in withdrawal.pending(layout)
    ]
    ids = {w.public_id for w in load_withdrawals(layout.datasets)}
    site = layout.site
    if not ids or not site.is_dir():
        return problems
    for public_id in sorted(ids):
        folder = site / "datasets" / public_id
        if folder.is_dir():
            extra = sorted(p.name for p in folder.iterdir() if p.name not in _TOMBSTONE)
            if extra:
                problems.append(
                    f"site/datasets/{public_id}/ still holds files of a withdrawn donation: "
                    + ", ".join(extra)
                )
    files, _ = walk_site(site)
    encoded = {pid: pid.encode() for pid in ids}
    for relpath in sorted(files):
        path = site / relpath
        if relpath.endswith(".parquet"):
            try:
                count = _parquet_traces(path, ids)
            except Exception as exc:  # a damaged table is reported, never a traceback
                problems.append(f"site/{relpath} cannot be read as Parquet ({exc})")
                continue
            if count:
                problems.append(
                    f"site/{relpath} still holds {count} row(s) of a withdrawn donation"
                )
            continue
        data = _readable(path)
        for public_id, needle in encoded.items():
            if needle in data and not _allowed_mentions(public_id, relpath):
                problems.append(f"site/{relpath} still mentions withdrawn donation {public_id}")
    return problems


def verify_releases(layout: Layout) -> list[str]:
    problems = [
        f"release {version} is half-made; run `archive-builder release {layout.root} {version}` "
        "to finish it"
        for version in half_made(layout)
    ]
    for info, _ in load_releases(layout.datasets):
        if not tag_exists(layout.datasets, info.version):
            problems.append(f"release {info.version} has no tag in the superdataset")
    return problems


def verify(archive: Archive) -> list[str]:
    """Complete pending withdrawals, then check the store, the site, withdrawals and releases."""
    layout = archive.layout
    problems: list[str] = []
    with locked(layout, "verify"):
        try:
            complete_pending(archive)
        except ArchiveError as exc:
            problems.append(f"a pending withdrawal could not be completed: {exc}")
        problems += guarded("store", lambda: verify_store(archive))
        problems += guarded("site", lambda: verify_site(layout.site))
        problems += guarded("withdrawals", lambda: verify_withdrawals(layout))
        problems += guarded("releases", lambda: verify_releases(layout))
    return problems
