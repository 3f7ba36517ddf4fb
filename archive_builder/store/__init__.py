"""Store: the DataLad superdataset and one dataset per donation."""

from .datasets import Committer, create_superdataset, registered
from .donations import add_donation, donation_dir, is_registered, recover
from .errors import StoreError

__all__ = [
    "Committer",
    "StoreError",
    "add_donation",
    "create_superdataset",
    "donation_dir",
    "is_registered",
    "recover",
    "registered",
]
