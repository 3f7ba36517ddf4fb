"""``archive-builder cohort``: the cohort page's selection from the command line.

The catalogs are read from a built site's folder or downloaded from a
published site's URL (into a cache folder), checked for their schema version,
and queried with DuckDB, with the statements the page runs.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pyarrow.parquet as pq

from ..catalog.tables import SCHEMA_VERSION
from ..errors import ArchiveError
from . import queries
from .manifests import CSV, SCRIPT, URLS, Counts, manifest, script, url_list

log = logging.getLogger(__name__)
TABLES = ("donations", "series", "instances")
Progress = Callable[[str, int, int], None]


class CohortError(ArchiveError, ValueError):
    """The catalogs cannot be read, or the query cannot be run."""


@dataclass(frozen=True)
class Cohort:
    counts: Counts
    files: list[dict[str, Any]]
    written: list[Path]


def query_of(url: str) -> str:
    """The SQL kept in a cohort page's URL (``...cohort/index.html?sql=...``)."""
    found = parse_qs(urlsplit(url).query).get("sql")
    if not found:
        raise CohortError(f"{url} holds no query (no sql= parameter); copy the page's URL again")
    return found[0]


def _fetch(url: str, target: Path) -> None:
    try:
        with urllib.request.urlopen(url, timeout=60) as response, target.open("wb") as out:  # noqa: S310
            shutil.copyfileobj(response, out, 1 << 20)
    except (urllib.error.URLError, OSError) as exc:
        raise CohortError(f"cannot download {url}: {exc}") from None


def catalogs(
    source: str, cache: Path, progress: Progress | None = None
) -> tuple[dict[str, Path], str]:
    """Local paths of the three catalogs and the site's base URL (``source`` may be a URL).

    ``source`` is a site (its base URL, or a folder holding ``catalog/``) or
    its ``catalog/`` folder itself.
    """
    remote = source.startswith(("http://", "https://"))
    base = source if source.endswith("/") else source + "/"
    if not remote:
        folder = Path(source)
        if (folder / "catalog").is_dir():
            folder = folder / "catalog"
        found = {t: folder / f"{t}.parquet" for t in TABLES}
        missing = [str(p) for p in found.values() if not p.is_file()]
        if missing:
            raise CohortError(
                f"{source}: no catalogs here ({', '.join(missing)} missing); give a built "
                "site's folder, its catalog/ folder, or the site's URL"
            )
        return found, ""
    if not base.rstrip("/").endswith("/catalog"):
        base += "catalog/"
    cache.mkdir(parents=True, exist_ok=True)
    found = {}
    for number, table in enumerate(TABLES, 1):
        if progress:
            progress(f"downloading {table}.parquet", number - 1, len(TABLES))
        found[table] = cache / f"{table}.parquet"
        _fetch(f"{base}{table}.parquet", found[table])
    if progress:
        progress("downloading the catalogs", len(TABLES), len(TABLES))
    return found, base.removesuffix("catalog/")


def check_schema(paths: dict[str, Path]) -> str:
    """The archive's name, once every catalog is known to be of the expected schema version."""
    name = ""
    for table, path in paths.items():
        try:
            meta = pq.read_metadata(path).metadata or {}
        except (OSError, ValueError) as exc:
            raise CohortError(f"{path} is not a readable Parquet catalog ({exc})") from None
        version = meta.get(b"schema_version", b"").decode() or "none"
        if version != SCHEMA_VERSION:
            raise CohortError(
                f"{path}: the {table} catalog has schema version {version}; this "
                f"archive-builder expects schema version {SCHEMA_VERSION}. Use the "
                "archive-builder version that wrote it, or its cohort page."
            )
        name = name or meta.get(b"archive", b"").decode()
    return name


def select(
    source: str,
    query: str,
    out: Path | None = None,
    store: str | None = None,
    progress: Progress | None = None,
) -> Cohort:
    """Run a cohort ``query`` over the catalogs of ``source``; write the manifests into ``out``."""
    import duckdb

    with tempfile.TemporaryDirectory() as scratch:
        paths, _ = catalogs(source, Path(scratch), progress)
        archive = check_schema(paths)
        con = duckdb.connect()
        for table, path in paths.items():
            kind = "TABLE" if table != "instances" else "VIEW"
            literal = str(path).replace("'", "''")  # a path, quoted as an SQL string
            con.execute(f"CREATE {kind} {table} AS SELECT * FROM read_parquet('{literal}')")  # noqa: S608
        try:
            names = [d[0] for d in con.execute(queries.columns(query)).description]
        except duckdb.Error as exc:
            raise CohortError(f"the query failed: {exc}") from None
        level = queries.level(names)
        if level is None or "public_id" not in names:
            raise CohortError(
                "the query must return a public_id column (and folder to select series, "
                f"or path to select files); it returns {', '.join(names) or 'no column'}"
            )
        row = con.execute(queries.counts(query, level)).fetchone()
        assert row is not None
        counts = Counts(*(int(v) for v in row))
        cursor = con.execute(queries.files(query, level))
        fields = [d[0] for d in cursor.description]
        files = [dict(zip(fields, values, strict=True)) for values in cursor.fetchall()]
        con.close()
    written: list[Path] = []
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        # The store is where the files' URLs point (the site's base URL + store/).
        first = next((f["url"] for f in files if f["url"]), None)
        origin = store or ("ria+" + first.split("store/", 1)[0] + "store" if first else "")
        texts = {
            SCRIPT: script(files, query, origin, archive, counts),
            CSV: manifest(files),
            URLS: url_list(files),
        }
        for name, text in texts.items():
            (out / name).write_text(text, encoding="utf-8")
            written.append(out / name)
    return Cohort(counts, files, written)
