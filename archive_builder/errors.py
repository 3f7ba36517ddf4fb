"""The one exception family of the project.

Every error a user can cause derives from :class:`ArchiveError` and carries a
message that says what was wrong and what to do. Each stage defines its own
subclass in its package; the CLI prints the message, never a traceback.
"""


class ArchiveError(Exception):
    """Base of every error archive-builder raises on purpose."""


class ConfigError(ArchiveError, ValueError):
    """``archive.toml`` is missing or invalid, or the folder is not an archive."""


class DiskFullError(ArchiveError, OSError):
    """The disk (or quota) is full: nothing the archive can fix, and nothing it left half-made."""


def disk_full_message(where: str) -> str:
    return (
        f"the disk is full ({where}). Free some space, then run the same command again: "
        "the archive is consistent, and the next command finishes or undoes what this one "
        "left half-done."
    )
