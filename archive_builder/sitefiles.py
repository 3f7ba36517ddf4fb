"""Writing the site: a new folder swapped in whole, unchanged files untouched, stale ones removed.

A build never writes into the live ``site/``. It stages ``site.next/``
beside it, in which every file of the live site (the DataLad store included)
is a hard link, so that an unchanged file costs one link and keeps its inode
and mtime (a sync to the web host moves only what changed). All stages that
publish (catalog, fair, site) write through one :class:`SiteWriter` on that
folder: every write goes to a temporary file and replaces the link in one
rename, only when the bytes differ; files the build did not produce are
removed at the end, except under prefixes another stage manages (the store).
Then :func:`swap` exchanges the two folders in one ``renameat2(RENAME_EXCHANGE)``
call: a reader sees the old site or the new one, never a mix, and ``site/``
stays a plain folder (no symlink to follow when it is copied or served).
"""

from __future__ import annotations

import ctypes
import errno
import hashlib
import os
import re
import shutil
import stat
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from .store.cleanup import force_rmtree

MANAGED_ELSEWHERE = ("store/",)
NEXT = ".next"  # the staging twin of site/: site.next/


class SiteWriter:
    def __init__(self, root: Path, keep_prefixes: tuple[str, ...] = MANAGED_ELSEWHERE):
        self.root = root
        self.keep_prefixes = keep_prefixes
        self.written: set[str] = set()
        self.changed: set[str] = set()
        root.mkdir(parents=True, exist_ok=True)

    def _target(self, relpath: str) -> Path:
        target = (self.root / relpath).resolve()
        if not target.is_relative_to(self.root.resolve()):
            raise ValueError(f"{relpath} is outside the site")
        return target

    @contextmanager
    def open(self, relpath: str) -> Iterator[Path]:
        """A temporary path to write ``relpath`` to; it replaces the file if its bytes differ."""
        target = self._target(relpath)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=".tmp-", dir=target.parent)
        os.close(fd)
        tmp = Path(name)
        try:
            yield tmp
            self._commit(tmp, target, relpath)
        finally:
            tmp.unlink(missing_ok=True)

    def _commit(self, tmp: Path, target: Path, relpath: str) -> None:
        self.written.add(relpath)
        same_size = target.is_file() and target.stat().st_size == tmp.stat().st_size
        if same_size and target.read_bytes() == tmp.read_bytes():
            return
        tmp.chmod(0o644)
        tmp.replace(target)
        self.changed.add(relpath)

    def bytes(self, relpath: str, data: bytes) -> None:
        with self.open(relpath) as tmp:
            tmp.write_bytes(data)

    def text(self, relpath: str, text: str) -> None:
        self.bytes(relpath, text.encode("utf-8"))

    def keep(self, relpath: str) -> None:
        """Declare an existing file part of this build without rewriting it."""
        if not self._target(relpath).is_file():
            raise FileNotFoundError(relpath)
        self.written.add(relpath)

    def finish(self) -> list[str]:
        """Remove files this build did not produce; return their paths."""
        removed: list[str] = []
        self._sweep(os.fspath(self.root), "", removed)
        return sorted(removed, reverse=True)

    def _kept(self, rel: str) -> bool:
        return any(rel.startswith(p) or rel + "/" == p for p in self.keep_prefixes)

    def _sweep(self, folder: str, prefix: str, removed: list[str]) -> bool:
        """Remove what this build did not write under ``folder``; True if it is left empty.

        Plain strings and one ``scandir`` per folder: a large site has tens of
        thousands of files, and folders under kept prefixes are not entered.
        """
        empty = True
        with os.scandir(folder) as listing:
            entries = list(listing)
        for entry in entries:
            rel = prefix + entry.name
            if self._kept(rel):
                empty = False
            elif entry.is_dir(follow_symlinks=False):
                if self._sweep(entry.path, rel + "/", removed):
                    os.rmdir(entry.path)
                else:
                    empty = False
            elif rel in self.written:
                empty = False
            else:
                os.unlink(entry.path)
                removed.append(rel)
        return empty


SUMS = "SHA256SUMS"
STORE = "store"
DIGEST = re.compile(r"[0-9a-f]{64}")


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1024 * 1024):
            digest.update(chunk)
    return digest.hexdigest()


def _safe_relpath(name: str) -> bool:
    parts = name.split("/")
    return bool(name) and not name.startswith("/") and ".." not in parts and "" not in parts


def parse_sums(data: bytes) -> tuple[dict[str, str], list[str]]:
    """The digests a ``SHA256SUMS`` lists, and what is wrong with its lines."""
    sums: dict[str, str] = {}
    problems: list[str] = []
    for number, raw in enumerate(data.splitlines(), start=1):
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError:
            problems.append(f"site/{SUMS} line {number} is not UTF-8 text")
            continue
        digest, sep, name = line.partition("  ")
        if not sep or not DIGEST.fullmatch(digest) or not _safe_relpath(name):
            problems.append(f"site/{SUMS} line {number} is not `<sha256>  <relative path>`")
        elif name in sums:
            problems.append(f"site/{SUMS} lists {name!r} twice")
        else:
            sums[name] = digest
    return sums, problems


def read_sums(site: Path) -> dict[str, str]:
    """The digests of the last finished build (empty when absent or unreadable)."""
    try:
        data = (site / SUMS).read_bytes()
    except OSError:
        return {}
    return parse_sums(data)[0]


def walk_site(site: Path) -> tuple[set[str], list[str]]:
    """Regular files under ``site`` (the store aside), and every symlink or special file.

    Nothing is followed: a symlink is reported, never read. The store's
    ``alias/`` links are DataLad's own and checked with the store.
    """
    files: set[str] = set()
    odd: list[str] = []
    for dirpath, dirnames, filenames in os.walk(site, followlinks=False):
        rel_dir = Path(dirpath).relative_to(site).as_posix()
        if rel_dir == STORE or rel_dir.startswith(STORE + "/"):
            dirnames[:] = []
            continue
        for name in [*dirnames, *filenames]:
            path = Path(dirpath) / name
            rel = path.relative_to(site).as_posix()
            if rel == STORE:
                continue
            mode = path.lstat().st_mode
            if stat.S_ISLNK(mode):
                target = path.readlink()
                odd.append(f"site/{rel} is a symlink (to {target}); the site holds only files")
            elif name in filenames:
                if stat.S_ISREG(mode):
                    files.add(rel)
                else:
                    odd.append(f"site/{rel} is not a regular file")
        dirnames[:] = [d for d in dirnames if not (Path(dirpath) / d).is_symlink()]
    return files, odd


def staging_folder(site: Path) -> Path:
    return site.with_name(site.name + NEXT)


def _kind(entry: os.DirEntry[str]) -> str:
    if entry.is_symlink():
        return "link"
    if entry.is_dir(follow_symlinks=False):
        return "dir"
    return "file" if entry.is_file(follow_symlinks=False) else "other"


def mirror(source: Path | str, target: Path | str) -> None:
    """Make ``target`` a hard-linked twin of ``source``: the same names, the same inodes.

    Only what differs costs anything: an entry already linked to the same
    inode is left alone (``scandir`` gives inodes without a ``stat``), others
    are linked, and entries ``source`` lacks are removed. Special files are
    not copied. Plain strings: a large site has tens of thousands of folders.
    """
    source, target = os.fspath(source), os.fspath(target)
    os.makedirs(target, exist_ok=True)
    with os.scandir(source) as listing:
        wanted = {entry.name: entry for entry in listing}
    with os.scandir(target) as listing:
        present = {entry.name: entry for entry in listing}
    kept = set()
    for name, entry in present.items():
        theirs = wanted.get(name)
        kind = _kind(entry)
        same = theirs is not None and _kind(theirs) == kind
        if same and theirs is not None and kind == "file":
            same = theirs.inode() == entry.inode()
        elif same and theirs is not None and kind == "link":
            same = os.readlink(theirs.path) == os.readlink(entry.path)
        if same:
            kept.add(name)
        else:
            force_rmtree(Path(entry.path))
    for name, entry in wanted.items():
        kind = _kind(entry)
        here = os.path.join(target, name)
        if kind == "dir":
            mirror(entry.path, here)
        elif name in kept:
            continue
        elif kind == "file":
            _link(Path(entry.path), Path(here))
        elif kind == "link":
            os.symlink(os.readlink(entry.path), here)


def stage(site: Path, changed: Iterable[str] | None = None) -> Path:
    """``site.next/``, made a hard-linked twin of the live site (the store included).

    Between builds it already is one (see :func:`swap`), so staging costs a
    directory listing per folder and a link per file the last publication
    added; whatever an interrupted build left there is repaired the same way.
    ``changed``: when the caller knows that the twin matches the live site but
    for these paths (relative to ``site``), only they are compared, each a
    file, a link or a whole folder: a store of 10,000 datasets is hundreds of
    thousands of folders, and listing them all cost more than the rest of a
    rebuild. A twin that is not there is always made in full.
    """
    partial = staging_folder(site)
    if partial.is_symlink() or (partial.exists() and not partial.is_dir()):
        partial.unlink()
    fresh = not partial.is_dir()
    partial.mkdir(exist_ok=True)
    if site.is_dir() and not site.is_symlink():
        if changed is None or fresh:
            mirror(site, partial)
        else:
            for relpath in sorted(set(changed)):
                _mirror_path(site, partial, relpath)
    else:
        force_rmtree(partial)
        partial.mkdir()
    return partial


def _mirror_path(source: Path, target: Path, relpath: str) -> None:
    """Make ``target/relpath`` what ``source/relpath`` is: a folder, a file, a link or nothing."""
    theirs, mine = source / relpath, target / relpath
    if theirs.is_dir() and not theirs.is_symlink():
        if mine.is_symlink() or (mine.exists() and not mine.is_dir()):
            mine.unlink()
        mine.parent.mkdir(parents=True, exist_ok=True)
        mirror(theirs, mine)
        return
    if theirs.is_symlink():
        if mine.is_symlink() and os.readlink(mine) == os.readlink(theirs):
            return
        force_rmtree(mine)
        mine.parent.mkdir(parents=True, exist_ok=True)
        os.symlink(os.readlink(theirs), mine)
    elif theirs.is_file():
        if mine.is_file() and not mine.is_symlink() and mine.stat().st_ino == theirs.stat().st_ino:
            return
        force_rmtree(mine)
        mine.parent.mkdir(parents=True, exist_ok=True)
        _link(theirs, mine)
    else:
        force_rmtree(mine)


def _link(source: Path, target: Path) -> None:
    try:
        os.link(source, target)
    except OSError as exc:
        if exc.errno not in (errno.EXDEV, errno.EPERM, errno.EMLINK):
            raise
        shutil.copy2(source, target)


_AT_FDCWD = -100
_RENAME_EXCHANGE = 2


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths atomically (Linux ``renameat2``); False where the system cannot."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    result = renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)
    if result == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP):
        return False
    raise OSError(code, os.strerror(code), str(b))


def swap(partial: Path, site: Path, touched: Iterable[str] | None = None) -> None:
    """Make ``partial`` the live site in one step; the old one becomes the new site's twin.

    After the exchange the old site sits in ``partial``'s place. Bringing it
    up to the new site removes what the new site no longer has (a withdrawn
    donation's files included) and leaves a twin for the next build to stage:
    only the paths in ``touched`` (what the build wrote or removed) when given,
    else by mirroring the whole tree.
    """
    if not site.exists() and not site.is_symlink():
        partial.rename(site)
    elif not _exchange(partial, site):
        # No atomic exchange here (another OS, an old kernel, a network file system):
        # two renames, and a moment without a site in between.
        old = site.with_name(site.name + ".old")
        if old.exists():
            force_rmtree(old)
        site.rename(old)
        partial.rename(site)
        old.rename(partial)
    if not partial.exists():
        return
    if touched is None:
        mirror(site, partial)
        return
    for relpath in touched:
        live, old = site / relpath, partial / relpath
        if live.is_file() and not live.is_symlink():
            old.parent.mkdir(parents=True, exist_ok=True)
            tmp = old.with_name(f".tmp-link-{old.name}")
            tmp.unlink(missing_ok=True)
            _link(live, tmp)
            tmp.replace(old)
        elif old.is_file() or old.is_symlink():
            old.unlink()
            _prune(old.parent, partial, site)


def _prune(folder: Path, twin: Path, site: Path) -> None:
    """Remove ``folder`` and its parents inside ``twin`` while empty and gone from ``site``."""
    while folder != twin and folder.is_relative_to(twin):
        if (site / folder.relative_to(twin)).is_dir() or any(folder.iterdir()):
            return
        folder.rmdir()
        folder = folder.parent
