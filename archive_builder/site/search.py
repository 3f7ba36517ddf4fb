"""Full-text search with Pagefind, in shards, so adding a donation re-indexes one shard.

Each donation gets a tiny search document (its id, region, modalities, diagnoses
and series descriptions) in the cache; Pagefind indexes each shard into
``pagefind/<n>/``; the browse page merges the shards' indexes in the browser.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import re
import shutil
import subprocess
import sys
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from html import escape
from pathlib import Path
from tempfile import TemporaryDirectory

from ..errors import ArchiveError
from ..sitefiles import SiteWriter
from .pagecache import fingerprint, keep

SHARDS = 8
IDS = "ids.json"
# Pagefind's ready-made interfaces (the browse page has its own few lines instead), and
# its per-page fragments: the page maps result ids to donations with ids.json, so
# publishing a fragment per donation would only add 10,000 files to a large site.
UNUSED = re.compile(r"-ui\.(js|css)$|^pagefind-highlight\.js$|^fragment/")


class SearchIndexError(ArchiveError, RuntimeError):
    """Pagefind could not index the site."""


def shard_of(public_id: str) -> int:
    return hashlib.sha256(public_id.encode()).digest()[0] % SHARDS


def search_document(public_id: str, words: Sequence[str]) -> str:
    """A tiny page for Pagefind: the donation's id as metadata, its words as the body.

    The id is not in the body: Pagefind splits it at the hyphen, so every donation
    would match "don"; the browse page matches ids exactly instead.
    """
    body = escape(" · ".join(words))
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(public_id)}</title></head><body>"
        f"<main data-pagefind-body><p>{body}</p>"
        f'<span data-pagefind-meta="id:{escape(public_id)}"></span></main></body></html>'
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


def _write_ids(output: Path) -> None:
    """``ids.json``: Pagefind's result id -> public id, so the page needs no fragment per hit.

    Pagefind names each page's fragment by its result id; the fragment holds the
    page's metadata (gzipped JSON after a signature).
    """
    ids = {}
    for fragment in sorted((output / "fragment").glob("*.pf_fragment")):
        data = gzip.decompress(fragment.read_bytes())
        meta = json.loads(data[data.index(b"{") :])["meta"]
        ids[fragment.name.removesuffix(".pf_fragment")] = meta["id"]
    (output / IDS).write_text(json.dumps(ids, separators=(",", ":")), encoding="utf-8")


def shards_of(public_ids: Iterable[str]) -> list[int]:
    """The shards that hold these donations (what the browse page loads)."""
    return sorted({shard_of(public_id) for public_id in public_ids})


@contextmanager
def indexing(
    documents: dict[str, str], site: SiteWriter, cache: Path | None
) -> Iterator[list[int]]:
    """Index ``documents`` beside the caller's work; yields the shards that hold them.

    Pagefind runs in its own process and the rest mostly waits on files, so the
    pages render meanwhile (on the other core). Leaving the block waits for the
    index and raises its error, if any.
    """
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="search") as pool:
        indexed = pool.submit(write_search, documents, site, cache)
        yield shards_of(documents)
        indexed.result()


def write_search(documents: dict[str, str], site: SiteWriter, cache: Path | None) -> None:
    """Index ``public_id -> document`` into ``pagefind/<shard>/``, re-indexing changed shards."""
    groups: dict[int, dict[str, str]] = {}
    for public_id, text in documents.items():
        groups.setdefault(shard_of(public_id), {})[public_id] = text
    with TemporaryDirectory() as scratch:
        root = cache / "search" if cache else Path(scratch)
        for shard, members in sorted(groups.items()):
            _write_shard(shard, members, root / str(shard), site)


def _sync_documents(docs: Path, members: dict[str, str]) -> None:
    """Make ``docs/`` hold exactly ``members`` (one page each), writing only what differs.

    Kept between builds: one more donation writes one page, not the shard's thousand.
    """
    docs.mkdir(parents=True, exist_ok=True)
    wanted = {f"{public_id}.html": text for public_id, text in members.items()}
    for path in docs.iterdir():
        if path.name not in wanted:
            path.unlink()
    for name, text in wanted.items():
        path = docs / name
        data = text.encode("utf-8")
        try:
            same = path.read_bytes() == data
        except FileNotFoundError:
            same = False
        if not same:
            path.write_bytes(data)


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
        stamp.unlink(missing_ok=True)
        listing.unlink(missing_ok=True)
        shutil.rmtree(output, ignore_errors=True)
        docs = folder / "docs"
        _sync_documents(docs, members)
        _pagefind(docs, output)
        stamp.write_text(key)
    if not (output / IDS).is_file():
        _write_ids(output)
    published = []
    for path in sorted(output.rglob("*")):
        inside = path.relative_to(output).as_posix()
        if path.is_file() and not UNUSED.search(inside) and not UNUSED.search(path.name):
            rel = f"pagefind/{shard}/{inside}"
            target = site.root / rel
            same_size = target.is_file() and target.stat().st_size == path.stat().st_size
            # Pagefind names its chunks by their content: same name and size, same file.
            hashed = not path.name.startswith("pagefind") and path.name != IDS
            if not (same_size and hashed and keep(site, rel)):
                site.bytes(rel, path.read_bytes())
            published.append(rel)
    listing.write_text(json.dumps(published), encoding="utf-8")
