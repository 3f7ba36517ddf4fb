"""Pages keyed by their inputs: a page whose inputs did not change is not rendered again.

The keys live in a cache folder outside the site (``DIR/.cache/site/``); the
pages themselves are the site's files, kept as they are when their key matches.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..sitefiles import SiteWriter


def fingerprint(*parts: Any) -> str:
    data = json.dumps(parts, sort_keys=True, default=str, ensure_ascii=False, check_circular=False)
    return hashlib.sha256(data.encode("utf-8")).hexdigest()


def keep(site: SiteWriter, relpath: str) -> bool:
    """Keep an existing site file as it is (declared written, not rewritten); False if absent.

    Cheaper than ``SiteWriter.keep`` for the tens of thousands of files a large
    archive keeps: ``relpath`` comes from this package, never from outside.
    """
    if not os.path.isfile(os.path.join(site.root, relpath)):
        return False
    site.written.add(relpath)
    return True


class PageCache:
    def __init__(self, site: SiteWriter, folder: Path | None, salt: str):
        self.site = site
        self.file = folder / "pages.json" if folder else None
        self.salt = salt
        self.old: dict[str, str] = {}
        if self.file is not None and self.file.is_file():
            try:
                self.old = json.loads(self.file.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                self.old = {}
        self.new: dict[str, str] = {}

    def page(self, relpath: str, inputs: Any, render: Callable[[], str | bytes]) -> None:
        """Write ``relpath`` from ``render()``, unless the same inputs produced it before."""
        key = fingerprint(self.salt, inputs)
        self.new[relpath] = key
        if self.old.get(relpath) == key and keep(self.site, relpath):
            return
        content = render()
        if isinstance(content, str):
            self.site.text(relpath, content)
        else:
            self.site.bytes(relpath, content)

    def known(self, relpath: str, inputs: Any) -> str | None:
        """ "kept" if ``relpath`` was made from ``inputs`` before and is kept now; "absent" if
        those inputs made nothing last time; None if it must be made again."""
        key = fingerprint(self.salt, inputs)
        old = self.old.get(relpath)
        if old == key and keep(self.site, relpath):
            self.new[relpath] = key
            return "kept"
        if old == "absent:" + key:
            self.new[relpath] = old
            return "absent"
        return None

    def made(self, relpath: str, inputs: Any, data: bytes | None) -> None:
        """Record that ``inputs`` made ``data`` (None: nothing) for ``relpath``; write it."""
        key = fingerprint(self.salt, inputs)
        self.new[relpath] = key if data is not None else "absent:" + key
        if data is not None:
            self.site.bytes(relpath, data)

    def save(self) -> None:
        if self.file is None:
            return
        self.file.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.file.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.new, sort_keys=True), encoding="utf-8")
        tmp.replace(self.file)
