"""Release: immutable, citable versions of the archive, and withdrawals."""

from .model import ReleaseInfo, Withdrawal

__all__ = ["ReleaseInfo", "Withdrawal"]
