from ..errors import ArchiveError


class OffersError(ArchiveError, ValueError):
    """An offers ledger line breaks the contract, or the ledger cannot be read."""
