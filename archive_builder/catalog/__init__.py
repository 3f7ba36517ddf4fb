"""Catalog: Parquet tables of donations, series and instances, queryable before any download."""

from .tables import DONATIONS, INSTANCES, OFFERS, SERIES, TABLES, Column, Table
from .writer import write_catalogs, write_table

__all__ = [
    "DONATIONS",
    "INSTANCES",
    "OFFERS",
    "SERIES",
    "TABLES",
    "Column",
    "Table",
    "write_catalogs",
    "write_table",
]
