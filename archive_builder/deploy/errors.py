from ..errors import ArchiveError


class DeployError(ArchiveError, RuntimeError):
    """The site cannot be deployed to the target (unreachable, missing, refused, full)."""
