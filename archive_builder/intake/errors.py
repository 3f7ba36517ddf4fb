from ..errors import ArchiveError


class IntakeError(ArchiveError, ValueError):
    """A donation package is refused: its message names the package and the reason."""
