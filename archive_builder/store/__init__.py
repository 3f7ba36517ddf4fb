"""Store: the DataLad superdataset and one dataset per donation."""

from .datasets import Committer, create_superdataset, registered
from .donations import (
    discard_staging,
    donation_dir,
    is_registered,
    recover,
    register_donations,
    stage_donation,
)
from .errors import StoreError

__all__ = [
    "Committer",
    "StoreError",
    "create_superdataset",
    "discard_staging",
    "donation_dir",
    "is_registered",
    "recover",
    "register_donations",
    "registered",
    "stage_donation",
]
