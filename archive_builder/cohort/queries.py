"""What a cohort is, in SQL: one source for the cohort page and ``archive-builder cohort``.

A cohort query is any SQL over the tables ``donations``, ``series`` and
``instances`` that returns a ``public_id`` column, and optionally ``folder``
(it then selects series) or ``path`` (it then selects files); without either
it selects whole donations. The statements below wrap it (as ``picked``) into
the chosen series (``chosen``), then count, list or show them. The page runs
them in DuckDB-WASM and the command line in DuckDB, so both give the same
selection for the same query. Each is one statement without temporary tables,
so a filter change on the page costs one round trip to the engine.
"""

from __future__ import annotations

LEVELS = ("path", "folder", "public_id")  # the first column present decides

# The chosen series, from ``picked``.
CHOSEN = {
    "public_id": "SELECT s.* FROM series s WHERE s.public_id IN (SELECT public_id FROM picked)",
    "folder": "SELECT s.* FROM series s "
    "JOIN (SELECT DISTINCT public_id, folder FROM picked) p USING (public_id, folder)",
    "path": "SELECT s.* FROM series s "
    "JOIN (SELECT DISTINCT public_id, split_part(path, '/', 1) AS folder FROM picked) p "
    "USING (public_id, folder)",
}
WITH = "WITH picked AS ({query}), chosen AS ({chosen}) "
_FILE_COLUMNS = "i.public_id, i.path, i.size, i.sha256, i.annex_key, i.url"
_FILES = {
    "public_id": f"SELECT {_FILE_COLUMNS} FROM instances i JOIN chosen c "
    "ON i.public_id = c.public_id AND i.SeriesInstanceUID = c.SeriesInstanceUID",
    "path": f"SELECT {_FILE_COLUMNS} FROM instances i "
    "JOIN (SELECT DISTINCT public_id, path FROM picked) p USING (public_id, path)",
}
_FILES["folder"] = _FILES["public_id"]
_COUNTS = {
    "series": "SELECT count(DISTINCT public_id) AS donations, count(*) AS series, "
    "coalesce(sum(NumberOfSeriesRelatedInstances), 0)::BIGINT AS files, "
    "coalesce(sum(total_bytes), 0)::BIGINT AS bytes FROM chosen",
    "path": "SELECT count(DISTINCT public_id) AS donations, "
    "count(DISTINCT public_id || '/' || split_part(path, '/', 1)) AS series, "
    "count(*)::BIGINT AS files, coalesce(sum(size), 0)::BIGINT AS bytes "
    "FROM (" + _FILES["path"] + ") f",
}
_SHOWN = (
    "SELECT c.public_id, c.folder, c.Modality, c.SeriesDescription, d.anatomical_region, "
    "d.age, d.sex, c.NumberOfSeriesRelatedInstances AS files, c.total_bytes AS bytes "
    "FROM chosen c JOIN donations d USING (public_id) ORDER BY c.public_id, c.folder LIMIT 100"
)
EXAMPLE = (
    "SELECT s.public_id, s.folder\n"
    "FROM series s JOIN donations d USING (public_id)\n"
    "WHERE s.Modality = 'CT' AND d.anatomical_region = 'HEAD' AND d.age BETWEEN 40 AND 70"
)


def _counts(level: str) -> str:
    return _COUNTS["path" if level == "path" else "series"]


def columns(query: str) -> str:
    """The statement whose result's columns tell the query's level."""
    return f"SELECT * FROM ({clean(query)}) q LIMIT 0"


def clean(query: str) -> str:
    return query.strip().rstrip(";").strip()


def files(query: str, level: str) -> str:
    """Every selected file, as the manifests list them, in order."""
    head = WITH.format(query=clean(query), chosen=CHOSEN[level])
    return f"{head}SELECT * FROM ({_FILES[level]}) f ORDER BY public_id, path"


def counts(query: str, level: str) -> str:
    """One row: donations, series, files, bytes."""
    return WITH.format(query=clean(query), chosen=CHOSEN[level]) + _counts(level)


def counts_and_shown(query: str, level: str) -> str:
    """The counts (on every row) and the first 100 chosen series, in one statement;
    one row with empty series columns when nothing is chosen."""
    head = WITH.format(query=clean(query), chosen=CHOSEN[level])
    return (
        f"{head}, n AS ({_counts(level)}), shown AS ({_SHOWN}) "
        "SELECT n.donations AS n_donations, n.series AS n_series, n.files AS n_files, "
        "n.bytes AS n_bytes, shown.* FROM n LEFT JOIN shown ON true "
        "ORDER BY shown.public_id, shown.folder"
    )


def level(names: list[str]) -> str | None:
    """Which of path, folder, public_id the query selects by; None if it returns none."""
    return next((name for name in LEVELS if name in names), None)


def as_json() -> dict[str, object]:
    """The statements as templates (``{query}`` in place of the query), for the page."""
    marker = "{query}"
    return {
        "levels": list(LEVELS),
        "columns": columns(marker),
        "files": {lv: files(marker, lv) for lv in LEVELS},
        "shown": {lv: counts_and_shown(marker, lv) for lv in LEVELS},
    }
