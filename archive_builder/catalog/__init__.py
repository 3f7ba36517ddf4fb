"""Catalog: Parquet tables of donations, series, instances and the donation rate."""

from .disclosure import THRESHOLD
from .errors import OffersError
from .offers import import_offers, ledger_path, load_ledger
from .rates import Donor, Rate, donor_of, rate_table, wilson
from .tables import DONATION_RATE, DONATIONS, INSTANCES, SERIES, TABLES, Column, Table
from .writer import release_added, write_catalogs, write_table

__all__ = [
    "DONATIONS",
    "DONATION_RATE",
    "INSTANCES",
    "SERIES",
    "TABLES",
    "THRESHOLD",
    "Column",
    "Donor",
    "OffersError",
    "Rate",
    "Table",
    "donor_of",
    "import_offers",
    "ledger_path",
    "load_ledger",
    "rate_table",
    "release_added",
    "wilson",
    "write_catalogs",
    "write_table",
]
