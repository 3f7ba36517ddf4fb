"""Cohort: select donations, series or files by SQL over the catalogs; write what fetches them."""

from .manifests import Counts
from .select import Cohort, CohortError, query_of, select

__all__ = ["Cohort", "CohortError", "Counts", "query_of", "select"]
