"""Full-text search with Pagefind, in shards, so adding a donation re-indexes one shard.

Each donation gets a tiny search document (its id, region, modalities, diagnoses
and series descriptions) in the cache; Pagefind indexes each shard into
``pagefind/<n>/``; the browse page merges the shards' indexes in the browser.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import sys
from collections.abc import Sequence
from html import escape
from pathlib import Path
from tempfile import TemporaryDirectory

from ..errors import ArchiveError
from ..sitefiles import SiteWriter
from .facts import Row
from .pagecache import fingerprint, keep

SHARDS = 8
# Pagefind's ready-made interfaces; the browse page has its own few lines instead.
UNUSED = re.compile(r"-ui\.(js|css)$|^pagefind-highlight\.js$")


class SearchIndexError(ArchiveError, RuntimeError):
    """Pagefind could not index the site."""


def shard_of(public_id: str) -> int:
    return hashlib.sha256(public_id.encode()).digest()[0] % SHARDS


def search_document(row: Row, series_descriptions: Sequence[str]) -> str:
    words = [
        row.public_id,
        row.region,
        *row.modalities,
        *row.diagnoses,
        *series_descriptions,
        row.sex,
        f"age {row.age_band}",
        row.license,
    ]
    body = escape(" · ".join(w for w in words if w))
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(row.public_id)}</title></head><body>"
        f'<main data-pagefind-body><h1 data-pagefind-meta="id">{escape(row.public_id)}</h1>'
        f"<p>{body}</p></main></body></html>"
    )


def _pagefind(docs: Path, output: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "pagefind", "--site", str(docs), "--output-path", str(output)],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise SearchIndexError(
            f"Pagefind failed to index the site: {result.stderr.strip() or result.stdout.strip()}"
        )


def write_search(documents: dict[str, str], site: SiteWriter, cache: Path | None) -> list[int]:
    """Index ``public_id -> document`` into ``pagefind/<shard>/``, re-indexing changed shards.

    Returns the shards that hold documents.
    """
    groups: dict[int, dict[str, str]] = {}
    for public_id, text in documents.items():
        groups.setdefault(shard_of(public_id), {})[public_id] = text
    with TemporaryDirectory() as scratch:
        root = cache / "search" if cache else Path(scratch)
        for shard, members in sorted(groups.items()):
            _write_shard(shard, members, root / str(shard), site)
    return sorted(groups)


def _write_shard(shard: int, members: dict[str, str], folder: Path, site: SiteWriter) -> None:
    key = fingerprint(sorted(members.items()))
    stamp, output, listing = folder / "key", folder / "pagefind", folder / "published.json"
    entry = f"pagefind/{shard}/pagefind-entry.json"
    if stamp.is_file() and stamp.read_text() == key and listing.is_file():
        published = json.loads(listing.read_text(encoding="utf-8"))
        on_site = site.root / entry
        # The entry file names every chunk by hash: if it is the same, so is the shard.
        if (
            on_site.is_file()
            and on_site.read_bytes() == (output / "pagefind-entry.json").read_bytes()
        ):
            for rel in published:
                keep(site, rel)
            return
    if not (stamp.is_file() and stamp.read_text() == key and output.is_dir()):
        shutil.rmtree(folder, ignore_errors=True)
        docs = folder / "docs"
        docs.mkdir(parents=True)
        for public_id, text in members.items():
            (docs / f"{public_id}.html").write_text(text, encoding="utf-8")
        _pagefind(docs, output)
        stamp.write_text(key)
    published = []
    for path in sorted(output.rglob("*")):
        if path.is_file() and not UNUSED.search(path.name):
            rel = f"pagefind/{shard}/{path.relative_to(output).as_posix()}"
            target = site.root / rel
            same_size = target.is_file() and target.stat().st_size == path.stat().st_size
            # Pagefind names its chunks by their content: same name and size, same file.
            if not (same_size and not path.name.startswith("pagefind") and keep(site, rel)):
                site.bytes(rel, path.read_bytes())
            published.append(rel)
    listing.write_text(json.dumps(published), encoding="utf-8")
