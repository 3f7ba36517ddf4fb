"""What a deploy uploads: the built site's files, what each is, and what changed since the
last deploy (by the manifest the target keeps, never by downloading anything).

Pages, catalogs and descriptors are known by the build's ``SHA256SUMS``. The
DataLad store (``store/``) is mostly content-addressed: an annexed file, a
loose git object or a pack is named by its own checksum, so one that was
deployed under a name is the same file today; only the few mutable files of
each repository (refs, ``HEAD``, ``config``, ``info/refs``...) are hashed.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ..mediatypes import content_type
from ..sitefiles import SUMS, read_sums

MANIFEST = ".deploy/manifest.json.gz"  # in the target, beside the site; not part of it
IMMUTABLE = "immutable"  # the manifest's digest of a content-addressed file
PENDING = "pending"  # being uploaded by a deploy that has not finished
CACHE_IMMUTABLE = "public, max-age=31536000, immutable"
CACHE_PAGE = "public, max-age=300"
CACHE_REFS = "no-cache"  # git refs: a clone must see the newest at once

_CONTENT_ADDRESSED = re.compile(
    r"(^|/)annex/objects/"  # annexed files, by key
    r"|(^|/)objects/[0-9a-f]{2}/[0-9a-f]{38,62}$"  # loose git objects
    r"|(^|/)objects/pack/pack-[0-9a-f]{40,64}\.(pack|idx|rev|bitmap)$"
)
_REFS = re.compile(r"^store/.*(/refs/|/HEAD$|/packed-refs$|/info/refs$|/objects/info/packs$)")


@dataclass(frozen=True)
class SiteFile:
    """One file to deploy: where it is here, and its digest (or IMMUTABLE)."""

    relpath: str  # under the site, POSIX
    source: Path
    digest: str
    link: str | None = None  # a symlink kept as such (folder targets)

    @property
    def immutable(self) -> bool:
        return self.digest == IMMUTABLE

    @property
    def cache_control(self) -> str:
        if self.immutable:
            return CACHE_IMMUTABLE
        return CACHE_REFS if _REFS.search(self.relpath) else CACHE_PAGE

    @property
    def content_type(self) -> str:
        return content_type(self.relpath)

    @property
    def is_page(self) -> bool:
        return self.relpath.endswith(".html")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1024 * 1024):
            digest.update(chunk)
    return digest.hexdigest()


def _store_files(site: Path, follow_aliases: bool) -> Iterator[SiteFile]:
    """The store's files; an alias (a symlink to a repository) is kept as a link, or, for
    targets without links, given as a copy of its repository's git files (its annexed
    files are fetched by dataset id, never through the alias)."""
    store = site / "store"
    for dirpath, dirnames, filenames in os.walk(store):
        folder = Path(dirpath)
        for name in sorted(filenames + [d for d in dirnames if (folder / d).is_symlink()]):
            path = folder / name
            relpath = path.relative_to(site).as_posix()
            if path.is_symlink():
                if not follow_aliases:
                    link = str(path.readlink())
                    yield SiteFile(relpath, path, "link:" + link, link)
                elif path.is_dir():
                    yield from _alias_copy(site, path, relpath)
                continue
            digest = IMMUTABLE if _CONTENT_ADDRESSED.search(relpath) else _sha256(path)
            yield SiteFile(relpath, path, digest)


def _alias_copy(site: Path, alias: Path, relpath: str) -> Iterator[SiteFile]:
    repository = alias.resolve()
    if not repository.is_relative_to(site.resolve()):
        return  # never follow a link out of the site
    for dirpath, dirnames, filenames in os.walk(repository):
        dirnames[:] = [d for d in dirnames if not (dirpath == str(repository) and d == "annex")]
        for name in sorted(filenames):
            path = Path(dirpath) / name
            inner = f"{relpath}/{path.relative_to(repository).as_posix()}"
            digest = IMMUTABLE if _CONTENT_ADDRESSED.search(inner) else _sha256(path)
            yield SiteFile(inner, path, digest)


def site_files(site: Path, follow_aliases: bool) -> list[SiteFile]:
    """Every file of the built site, pages by ``SHA256SUMS`` and the store by name."""
    sums = read_sums(site)
    files = [SiteFile(relpath, site / relpath, digest) for relpath, digest in sums.items()]
    files.append(SiteFile(SUMS, site / SUMS, _sha256(site / SUMS)))
    if (site / "store").is_dir():
        files.extend(_store_files(site, follow_aliases))
    return sorted(files, key=lambda f: f.relpath)


@dataclass(frozen=True)
class Plan:
    """In order: content-addressed files, then the other changed files, pages last; then
    the files to delete. ``unchanged`` counts what is already deployed."""

    upload: list[SiteFile]
    delete: list[str]
    unchanged: int

    @property
    def upload_bytes(self) -> int:
        return sum(f.source.stat().st_size for f in self.upload if f.link is None)


def plan(files: list[SiteFile], deployed: dict[str, str]) -> Plan:
    """What to upload and delete so that the target holds ``files`` and nothing else."""
    changed = [f for f in files if deployed.get(f.relpath) != f.digest]
    here = {f.relpath for f in files}

    def order(f: SiteFile) -> tuple[int, str]:
        # objects before what names them, pages (which link to everything) last, the
        # sums file (which describes the site) after every page
        rank = 0 if f.immutable else 3 if f.relpath == SUMS else 2 if f.is_page else 1
        return rank, f.relpath

    return Plan(
        upload=sorted(changed, key=order),
        delete=sorted(set(deployed) - here),
        unchanged=len(files) - len(changed),
    )
