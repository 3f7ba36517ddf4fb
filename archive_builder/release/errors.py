from ..errors import ArchiveError


class ReleaseError(ArchiveError, ValueError):
    """A release or withdrawal cannot be made as asked."""
