"""The cohort page: its filter choices, its settings, and the query engine it loads.

The engine (DuckDB-WASM, fetched from npm when the package is built: see
tools/npm_vendor.py) is copied into ``cohort/engine/``; only this page loads it.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import Any

from ..catalog.tables import SCHEMA_VERSION
from ..cohort import queries
from ..config import ArchiveConfig
from ..sitefiles import SiteWriter
from ..store.content import StoredDonation
from .facts import UNRELEASED, Row, diagnosis_label

log = logging.getLogger(__name__)
ENGINE = (
    "duckdb-eh.wasm",
    "duckdb-browser-eh.worker.js",
    "duckdb-browser.mjs",
    "arrow.js",
    "NOTICE.md",
    "LICENSE-apache-arrow.txt",
    "NOTICE-apache-arrow.txt",
)
TABLES = ("donations", "series", "instances")


def engine_dir() -> Path:
    return Path(str(resources.files("archive_builder"))) / "vendor"


def write_engine(site: SiteWriter) -> bool:
    """Copy the engine into ``cohort/engine/``; False (and a warning) when it is missing."""
    folder = engine_dir()
    if not all((folder / name).is_file() for name in ENGINE):
        log.warning(
            "the cohort page's query engine is missing from this installation "
            "(reinstall with `pip install .`, which fetches it from the npm registry); "
            "the page will say so"
        )
        return False
    for name in ENGINE:
        site.bytes(f"cohort/engine/{name}", (folder / name).read_bytes())
    return True


def _ranked(counter: Counter[str]) -> list[tuple[str, int]]:
    return sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))


def choices(donations: Sequence[StoredDonation], rows: Sequence[Row]) -> dict[str, Any]:
    """The values each filter offers, with the number of series (or donations) having each."""
    modality: Counter[str] = Counter()
    manufacturer: Counter[str] = Counter()
    diagnosis: Counter[str] = Counter()
    labels: dict[str, str] = {}
    for d in donations:
        for s in d.series:
            modality[s["Modality"] or "unknown"] += 1
            if s.get("Manufacturer"):
                manufacturer[s["Manufacturer"]] += 1
        for x in d.record["study"]["diagnoses"]:
            code = f"{x['system']}:{x['code']}"
            diagnosis[code] += 1
            labels.setdefault(code, diagnosis_label(x))
    return {
        "modality": _ranked(modality),
        "region": _ranked(Counter(r.region for r in rows)),
        "sex": _ranked(Counter(r.sex for r in rows)),
        "diagnosis": [(code, labels[code], n) for code, n in _ranked(diagnosis)[:40]],
        "license": _ranked(Counter(r.license for r in rows)),
        "release": _ranked(Counter(r.release for r in rows if r.release != UNRELEASED)),
        "manufacturer": _ranked(manufacturer)[:30],
    }


def catalog_files(site: Path) -> dict[str, list[str]]:
    """Each table's files under ``catalog/`` as the build listed them (``files.json``):
    one file, or a month's part each once the catalogs are partitioned."""
    try:
        listing = json.loads((site / "catalog" / "files.json").read_text(encoding="utf-8"))
        return {t: [str(f) for f in listing["tables"][t]] for t in TABLES}
    except (OSError, ValueError, KeyError, TypeError):
        return {t: [f"{t}.parquet"] for t in TABLES}


def settings(
    config: ArchiveConfig, engine: bool, files: dict[str, list[str]] | None = None
) -> dict[str, Any]:
    """What the page's script needs: catalog files (a list per table), statements, store."""
    files = files or {t: [f"{t}.parquet"] for t in TABLES}
    return {
        "schema": SCHEMA_VERSION,
        "tables": {t: [f"../catalog/{name}" for name in files[t]] for t in TABLES},
        "queries": queries.as_json(),
        "store": f"ria+{config.base_url}store",
        "archive": config.name,
        "engine": "engine/" if engine else None,
        "example": queries.EXAMPLE,
    }
