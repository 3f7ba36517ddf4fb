from ..errors import ArchiveError


class StoreError(ArchiveError, RuntimeError):
    """The DataLad store is not in the state an operation needs."""
