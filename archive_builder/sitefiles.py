"""Writing into ``site/``: every file atomically, unchanged files untouched, stale files removed.

All stages that publish (catalog, fair, site, store) write through one
:class:`SiteWriter` per build. A file whose bytes did not change keeps its
mtime (so a sync to the web host moves only what changed); every write goes
to a temporary file first and replaces the old one in one rename; files the
build did not produce are removed at the end, except under prefixes another
stage manages (the DataLad store).
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

MANAGED_ELSEWHERE = ("store/",)


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
        removed = []
        for path in sorted(self.root.rglob("*"), reverse=True):
            rel = path.relative_to(self.root).as_posix()
            if any(rel.startswith(p) or rel + "/" == p for p in self.keep_prefixes):
                continue
            if path.is_file() or path.is_symlink():
                if rel not in self.written:
                    path.unlink()
                    removed.append(rel)
            elif path.is_dir() and not any(path.iterdir()):
                path.rmdir()
        return removed


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
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return {}, [f"site/{SUMS} is not UTF-8 text"]
    for number, line in enumerate(text.splitlines(), start=1):
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
