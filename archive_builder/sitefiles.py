"""Writing into ``site/``: every file atomically, unchanged files untouched, stale files removed.

All stages that publish (catalog, fair, site, store) write through one
:class:`SiteWriter` per build. A file whose bytes did not change keeps its
mtime (so a sync to the web host moves only what changed); every write goes
to a temporary file first and replaces the old one in one rename; files the
build did not produce are removed at the end, except under prefixes another
stage manages (the DataLad store).
"""

from __future__ import annotations

import os
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
