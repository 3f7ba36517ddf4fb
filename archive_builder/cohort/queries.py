"""What a cohort is, in SQL: one source for the cohort page and ``archive-builder cohort``.

A cohort query is any SQL over the tables ``donations``, ``series`` and
``instances`` that returns a ``public_id`` column, and optionally ``folder``
(it then selects series) or ``path`` (it then selects files); without either
it selects whole donations. The statements below turn its result (``picked``)
into the chosen series, the counts, the files and the rows shown. The page
runs them in DuckDB-WASM and the command line in DuckDB, so both give the same
selection for the same query.
"""

from __future__ import annotations

LEVELS = ("path", "folder", "public_id")  # the first column present decides

CHOSEN = {
    "public_id": "CREATE OR REPLACE TEMP TABLE chosen AS SELECT s.* FROM series s "
    "WHERE s.public_id IN (SELECT public_id FROM picked)",
    "folder": "CREATE OR REPLACE TEMP TABLE chosen AS SELECT s.* FROM series s "
    "JOIN (SELECT DISTINCT public_id, folder FROM picked) p USING (public_id, folder)",
    "path": "CREATE OR REPLACE TEMP TABLE chosen AS SELECT s.* FROM series s "
    "JOIN (SELECT DISTINCT public_id, split_part(path, '/', 1) AS folder FROM picked) p "
    "USING (public_id, folder)",
}
FILES = {
    "public_id": "SELECT i.public_id, i.path, i.size, i.sha256, i.annex_key, i.url "
    "FROM instances i JOIN chosen c "
    "ON i.public_id = c.public_id AND i.SeriesInstanceUID = c.SeriesInstanceUID "
    "ORDER BY i.public_id, i.path",
    "path": "SELECT i.public_id, i.path, i.size, i.sha256, i.annex_key, i.url "
    "FROM instances i JOIN (SELECT DISTINCT public_id, path FROM picked) p "
    "USING (public_id, path) ORDER BY i.public_id, i.path",
}
FILES["folder"] = FILES["public_id"]
COUNTS = (
    "SELECT count(DISTINCT public_id) AS donations, count(*) AS series, "
    "coalesce(sum(NumberOfSeriesRelatedInstances), 0)::BIGINT AS files, "
    "coalesce(sum(total_bytes), 0)::BIGINT AS bytes FROM chosen"
)
FILE_COUNTS = (
    "SELECT count(DISTINCT public_id) AS donations, "
    "count(DISTINCT split_part(path, '/', 1) || ' ' || public_id) AS series, "
    "count(*)::BIGINT AS files, coalesce(sum(size), 0)::BIGINT AS bytes FROM ({files})"
)
SHOWN = (
    "SELECT c.public_id, c.folder, c.Modality, c.SeriesDescription, d.anatomical_region, "
    "d.age, d.sex, c.NumberOfSeriesRelatedInstances AS files, c.total_bytes AS bytes "
    "FROM chosen c JOIN donations d USING (public_id) ORDER BY c.public_id, c.folder LIMIT 100"
)
EXAMPLE = (
    "SELECT s.public_id, s.folder\n"
    "FROM series s JOIN donations d USING (public_id)\n"
    "WHERE s.Modality = 'CT' AND d.anatomical_region = 'HEAD' AND d.age BETWEEN 40 AND 70"
)


PICKED = "CREATE OR REPLACE TEMP TABLE picked AS SELECT * FROM ({query})"


def picked(query: str) -> str:
    """The statement that runs a cohort query (without its trailing semicolon)."""
    return PICKED.format(query=query.strip().rstrip(";"))


def level(columns: list[str]) -> str | None:
    """Which of path, folder, public_id the query selects by; None if it returns none."""
    return next((name for name in LEVELS if name in columns), None)


def as_json() -> dict[str, object]:
    """The statements, for the cohort page."""
    return {
        "picked": PICKED,
        "levels": list(LEVELS),
        "chosen": CHOSEN,
        "files": FILES,
        "counts": COUNTS,
        "file_counts": FILE_COUNTS,
        "shown": SHOWN,
    }
