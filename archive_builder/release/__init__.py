"""Release: immutable, citable versions of the archive, and withdrawals.

The commands themselves live in ``release.actions`` (they rebuild the site
through the pipeline); this package exports the data the other stages share.
"""

from .errors import ReleaseError
from .model import ReleaseInfo, Withdrawal

__all__ = ["ReleaseError", "ReleaseInfo", "Withdrawal"]
