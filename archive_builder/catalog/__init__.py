"""Catalog: Parquet tables of donations, series, instances and offers, queryable before download."""

from .errors import OffersError
from .offers import THRESHOLD, import_offers, ledger_path, load_ledger, published_rows
from .tables import DONATIONS, INSTANCES, OFFERS, SERIES, TABLES, Column, Table
from .writer import release_added, write_catalogs, write_table

__all__ = [
    "DONATIONS",
    "INSTANCES",
    "OFFERS",
    "SERIES",
    "TABLES",
    "THRESHOLD",
    "Column",
    "OffersError",
    "Table",
    "import_offers",
    "ledger_path",
    "load_ledger",
    "published_rows",
    "release_added",
    "write_catalogs",
    "write_table",
]
